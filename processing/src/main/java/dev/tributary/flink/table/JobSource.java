// The source table of Tributary's own jobs (features, sessions): the
// `tributary` connector with every metadata column, the watermark on the
// envelope's event time, unreadable records kept as rows (the `error`
// column) for the job's error output, offsets from the job's consumer
// group, and optionally bounded at the topics' current end.
package dev.tributary.flink.table;

import dev.tributary.flink.record.Sql;
import java.time.Duration;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.TableDescriptor;

/** Where a job reads from. */
public record JobSource(String kafka, String registry, String group, Duration watermarkDelay, boolean bounded) {
  /** Reads topic `topic`, or with `pattern` the topics matching it; `payload` holds the payload columns, if any. */
  public TableDescriptor table(Schema.Builder payload, String topic, boolean pattern) {
    for (Metadata m : Metadata.values()) {
      payload.columnByMetadata(m.key, m.type, m.key, true);
    }
    payload.watermark(Metadata.EVENT_TIME.key, Metadata.EVENT_TIME.key + " - " + Sql.interval(watermarkDelay));
    TableDescriptor.Builder source = TableDescriptor.forConnector(TributaryTableFactory.IDENTIFIER)
        .schema(payload.build())
        .option(pattern ? "topic-pattern" : "topic", topic)
        .option("properties.bootstrap.servers", kafka)
        .option("properties.group.id", group)
        .option("registry.url", registry)
        .option("scan.startup.mode", "group-offsets")
        .option("errors", "include");
    if (bounded) {
      source.option("scan.bounded.mode", "latest-offset");
    }
    return source.build();
  }
}

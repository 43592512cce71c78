// The error output every job shares: the records its source could not read
// (an unknown schema id, a corrupt value, no envelope), one JSON record each
// in a Kafka topic — the job's name, where the record is (topic, partition,
// offset) and `<reason>: <message>` — while the job goes on. The reasons
// are DecodeException.Reason's labels.
package dev.tributary.flink.record;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.TableDescriptor;
import org.apache.flink.table.api.TableEnvironment;

/** The error output. */
public final class ErrorOutput {
  private ErrorOutput() {}

  /** The temporary table the error rows are inserted into. */
  public static final String TABLE = "errors";

  /** Declares table `errors` writing to `topic` on `kafka`. */
  public static void declare(TableEnvironment tEnv, String kafka, String topic) {
    tEnv.createTemporaryTable(TABLE, TableDescriptor.forConnector("kafka")
        .schema(Schema.newBuilder()
            .column("job", DataTypes.STRING())
            .column("topic", DataTypes.STRING())
            .column("partition", DataTypes.INT())
            .column("offset", DataTypes.BIGINT())
            .column("error", DataTypes.STRING())
            .build())
        .option("topic", topic)
        .option("properties.bootstrap.servers", kafka)
        .format("json")
        .build());
  }

  /**
   * The error rows of `source` (a `tributary` table read with
   * `'errors' = 'include'` and the topic, partition, offset and error
   * metadata columns), labelled with `job`.
   */
  public static Table rows(TableEnvironment tEnv, String job, String source) {
    return tEnv.sqlQuery("SELECT '" + job.replace("'", "''") + "' AS job, topic, `partition`, `offset`, error FROM "
        + source + " WHERE error IS NOT NULL");
  }
}

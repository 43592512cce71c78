// The `tributary-redis` table sink: rows (inserts and upserts; deletes
// remove the key) through RedisWriter.
package dev.tributary.flink.redis;

import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.data.RowData;
import org.apache.flink.types.RowKind;

final class RedisTableSink implements DynamicTableSink {
  private final RedisWriter.Spec spec;

  RedisTableSink(RedisWriter.Spec spec) {
    this.spec = spec;
  }

  @Override
  public ChangelogMode getChangelogMode(ChangelogMode requested) {
    // The key is the row's identity: an update before its after is moot.
    return ChangelogMode.newBuilder()
        .addContainedKind(RowKind.INSERT)
        .addContainedKind(RowKind.UPDATE_AFTER)
        .addContainedKind(RowKind.DELETE)
        .build();
  }

  @Override
  public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
    Sink<RowData> sink = new RedisSink(spec);
    // One writer: a key's rows come from one upstream task in order, and
    // one writer keeps that order into Redis (two could race, leaving an
    // older window's value last). Pipelined writes keep it fast enough for
    // features, which emit a row per key per window slide.
    return SinkV2Provider.of(sink, 1);
  }

  /** The sink the job runs (serialized with it: the spec only). */
  static final class RedisSink implements Sink<RowData> {
    private static final long serialVersionUID = 1L;
    private final RedisWriter.Spec spec;

    RedisSink(RedisWriter.Spec spec) {
      this.spec = spec;
    }

    @Override
    public SinkWriter<RowData> createWriter(WriterInitContext ctx) {
      return new RedisWriter(spec, ctx.getProcessingTimeService());
    }
  }

  @Override
  public DynamicTableSink copy() {
    return new RedisTableSink(spec);
  }

  @Override
  public String asSummaryString() {
    return "Redis(" + spec.keyTemplate() + ")";
  }
}

// Writes rows to Redis: the latest row per key is buffered and written in
// one pipelined round trip every half second, when the buffer reaches a
// thousand keys, and before every checkpoint (so a checkpoint never
// completes before its rows are in Redis). A failed write fails the task;
// Flink restarts it from the last checkpoint and the idempotent writes
// converge.
package dev.tributary.flink.redis;

import java.io.Serializable;
import java.net.URI;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.types.RowKind;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;

final class RedisWriter implements SinkWriter<RowData> {
  /** What to write where. */
  record Spec(String url, String keyTemplate, boolean hash, long ttlSeconds, RowType row, List<String> values)
      implements Serializable {}

  private static final int MAX_BUFFERED = 1000;
  private static final long FLUSH_EVERY_MS = 500;

  private static final java.util.regex.Pattern PLACEHOLDER = java.util.regex.Pattern.compile("\\{([^}]+)}");

  private final Spec spec;
  private final Map<String, Integer> index = new HashMap<>();
  private final RowData.FieldGetter[] getters;
  private final LogicalType[] types;
  private final Jedis jedis;
  /** Key → fields (null: delete the key). */
  private final Map<String, Map<String, String>> buffer = new LinkedHashMap<>();
  private final ProcessingTimeService time;

  RedisWriter(Spec spec, ProcessingTimeService time) {
    this.spec = spec;
    this.time = time;
    int n = spec.row().getFieldCount();
    getters = new RowData.FieldGetter[n];
    types = new LogicalType[n];
    for (int i = 0; i < n; i++) {
      types[i] = spec.row().getTypeAt(i);
      getters[i] = RowData.createFieldGetter(types[i], i);
      index.put(spec.row().getFieldNames().get(i), i);
    }
    jedis = new Jedis(URI.create(spec.url()));
    schedule();
  }

  private void schedule() {
    time.registerTimer(time.getCurrentProcessingTime() + FLUSH_EVERY_MS, t -> {
      flush(false);
      schedule();
    });
  }

  private String text(RowData row, int i) {
    Object v = getters[i].getFieldOrNull(row);
    if (v == null) {
      return "";
    }
    if (v instanceof TimestampData t) {
      return t.toInstant().toString();
    }
    return v.toString();
  }

  @Override
  public void write(RowData row, Context context) {
    StringBuilder key = new StringBuilder();
    java.util.regex.Matcher m = PLACEHOLDER.matcher(spec.keyTemplate());
    while (m.find()) {
      m.appendReplacement(key, java.util.regex.Matcher.quoteReplacement(text(row, index.get(m.group(1)))));
    }
    m.appendTail(key);
    if (row.getRowKind() == RowKind.UPDATE_BEFORE) {
      return;
    }
    if (row.getRowKind() == RowKind.DELETE) {
      buffer.put(key.toString(), null);
    } else {
      Map<String, String> fields = new LinkedHashMap<>();
      for (String c : spec.values()) {
        fields.put(c, text(row, index.get(c)));
      }
      buffer.put(key.toString(), fields);
    }
    if (buffer.size() >= MAX_BUFFERED) {
      flush(false);
    }
  }

  @Override
  public void flush(boolean endOfInput) {
    if (buffer.isEmpty()) {
      return;
    }
    Pipeline p = jedis.pipelined();
    for (Map.Entry<String, Map<String, String>> e : buffer.entrySet()) {
      String key = e.getKey();
      Map<String, String> fields = e.getValue();
      if (fields == null) {
        p.del(key);
        continue;
      }
      if (spec.hash()) {
        p.hset(key, fields);
      } else {
        p.set(key, fields.values().iterator().next());
      }
      if (spec.ttlSeconds() > 0) {
        p.expire(key, spec.ttlSeconds());
      }
    }
    p.sync();
    buffer.clear();
  }

  @Override
  public void close() {
    jedis.close();
  }
}

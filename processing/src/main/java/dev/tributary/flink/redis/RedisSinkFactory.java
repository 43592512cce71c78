// `'connector' = 'tributary-redis'`: a Flink SQL sink that keeps the latest
// row per key in Redis, for features read online:
//
//   CREATE TABLE store_orders (store_id STRING, order_count BIGINT, window_end TIMESTAMP(3))
//   WITH ('connector' = 'tributary-redis', 'url' = 'redis://redis:6379',
//         'key' = 'store:{store_id}:orders_20m', 'type' = 'hash', 'ttl' = '30 min');
//
// `key` names the Redis key by the row's columns; a `hash` holds every
// other column as a field (HSET), a `string` the one other column (SET).
// Writes are idempotent — the same row writes the same key and fields — so
// the sink is at-least-once and a job restarted from a checkpoint, which
// writes some rows again, leaves Redis as an uninterrupted run would.
package dev.tributary.flink.redis;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.logical.RowType;

/** The `tributary-redis` sink's factory. */
public final class RedisSinkFactory implements DynamicTableSinkFactory {
  public static final ConfigOption<String> URL =
      ConfigOptions.key("url").stringType().noDefaultValue().withDescription("redis://host:port[/db]");
  public static final ConfigOption<String> KEY =
      ConfigOptions.key("key").stringType().noDefaultValue()
          .withDescription("Key template: {column} is replaced by the row's value.");
  public static final ConfigOption<String> TYPE =
      ConfigOptions.key("type").stringType().defaultValue("hash").withDescription("hash or string.");
  public static final ConfigOption<Duration> TTL =
      ConfigOptions.key("ttl").durationType().noDefaultValue().withDescription("Keys expire this long after their last write.");

  private static final Pattern PLACEHOLDER = Pattern.compile("\\{([^}]+)}");

  @Override
  public String factoryIdentifier() {
    return "tributary-redis";
  }

  @Override
  public Set<ConfigOption<?>> requiredOptions() {
    return Set.of(URL, KEY);
  }

  @Override
  public Set<ConfigOption<?>> optionalOptions() {
    return Set.of(TYPE, TTL);
  }

  @Override
  public DynamicTableSink createDynamicTableSink(Context context) {
    FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
    helper.validate();
    ReadableConfig o = helper.getOptions();
    RowType row = (RowType) context.getPhysicalRowDataType().getLogicalType();
    List<String> columns = row.getFieldNames();
    Set<String> inKey = new HashSet<>();
    Matcher m = PLACEHOLDER.matcher(o.get(KEY));
    while (m.find()) {
      if (!columns.contains(m.group(1))) {
        throw new ValidationException("key template names {" + m.group(1) + "}, which is not a column of " + columns);
      }
      inKey.add(m.group(1));
    }
    List<String> values = new ArrayList<>();
    for (String c : columns) {
      if (!inKey.contains(c)) {
        values.add(c);
      }
    }
    boolean hash = switch (o.get(TYPE)) {
      case "hash" -> true;
      case "string" -> false;
      default -> throw new ValidationException("'type' is hash or string, not " + o.get(TYPE));
    };
    if (!hash && values.size() != 1) {
      throw new ValidationException("a string sink takes one column besides the key's, not " + values);
    }
    if (values.isEmpty()) {
      throw new ValidationException("every column is in the key: nothing to write");
    }
    RedisWriter.Spec spec = new RedisWriter.Spec(
        o.get(URL), o.get(KEY), hash, o.getOptional(TTL).map(Duration::getSeconds).orElse(0L), row, values);
    return new RedisTableSink(spec);
  }
}

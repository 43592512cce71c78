// `'connector' = 'tributary'`: a Tributary topic as a Flink SQL table. The
// physical columns are the payload's properties, read by the schema each
// record names (the registry at `registry.url`); the metadata columns are
// the envelope (event name, message id, app, user and anonymous id, event
// time, received-at, custom attributes, context) and the record's place in
// Kafka. The standard Kafka connector's value formats see only the value,
// and the envelope travels in headers: so this is a connector (over
// Flink's own KafkaSource), with `'value.format' = 'tributary'` for tables
// that use the Kafka connector and need only the payload.
//
//   CREATE TABLE orders (
//     store_id STRING, total DOUBLE,
//     event_time TIMESTAMP_LTZ(3) METADATA, user_key STRING METADATA,
//     WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND
//   ) WITH ('connector' = 'tributary', 'topic' = 'tributary.order_completed',
//     'properties.bootstrap.servers' = 'kafka:9092', 'registry.url' = 'http://gateway:8080');
package dev.tributary.flink.table;

import dev.tributary.flink.record.RecordDecoder;
import dev.tributary.flink.registry.RegistryClient;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.DataType;

/** The `tributary` connector's factory. */
public final class TributaryTableFactory implements DynamicTableSourceFactory {
  public static final String IDENTIFIER = "tributary";

  public static final ConfigOption<List<String>> TOPIC =
      ConfigOptions.key("topic").stringType().asList().noDefaultValue()
          .withDescription("Topics to read (or topic-pattern).");
  public static final ConfigOption<String> TOPIC_PATTERN =
      ConfigOptions.key("topic-pattern").stringType().noDefaultValue()
          .withDescription("A regular expression of topics to read.");
  public static final ConfigOption<String> BOOTSTRAP =
      ConfigOptions.key("properties.bootstrap.servers").stringType().noDefaultValue()
          .withDescription("Kafka bootstrap servers.");
  public static final ConfigOption<String> GROUP =
      ConfigOptions.key("properties.group.id").stringType().noDefaultValue()
          .withDescription("Consumer group (offsets committed on checkpoints).");
  public static final ConfigOption<String> REGISTRY =
      ConfigOptions.key("registry.url").stringType().noDefaultValue()
          .withDescription("The schema registry: the gateway's registry API or a Confluent Schema Registry.");
  public static final ConfigOption<String> STARTUP =
      ConfigOptions.key("scan.startup.mode").stringType().defaultValue("group-offsets")
          .withDescription("earliest-offset, latest-offset, or group-offsets (earliest without any).");
  public static final ConfigOption<String> BOUNDED =
      ConfigOptions.key("scan.bounded.mode").stringType().defaultValue("unbounded")
          .withDescription("unbounded, or latest-offset: stop at the offsets current at start (backfills, tests).");
  public static final ConfigOption<String> ERRORS =
      ConfigOptions.key("errors").stringType().defaultValue("skip")
          .withDescription("What a record that cannot be read becomes: skip (counted), or include (a row with the error column set).");

  @Override
  public String factoryIdentifier() {
    return IDENTIFIER;
  }

  @Override
  public Set<ConfigOption<?>> requiredOptions() {
    return Set.of(BOOTSTRAP);
  }

  @Override
  public Set<ConfigOption<?>> optionalOptions() {
    return new HashSet<>(List.of(TOPIC, TOPIC_PATTERN, GROUP, REGISTRY, STARTUP, BOUNDED, ERRORS));
  }

  @Override
  public DynamicTableSource createDynamicTableSource(Context context) {
    FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
    helper.validateExcept("properties.");
    ReadableConfig o = helper.getOptions();
    if (o.getOptional(TOPIC).isEmpty() == o.getOptional(TOPIC_PATTERN).isEmpty()) {
      throw new org.apache.flink.table.api.ValidationException("give exactly one of 'topic' and 'topic-pattern'");
    }
    String errors = o.get(ERRORS);
    if (!errors.equals("skip") && !errors.equals("include")) {
      throw new org.apache.flink.table.api.ValidationException("'errors' is skip or include, not " + errors);
    }
    Properties kafka = new Properties();
    context.getCatalogTable().getOptions().forEach((k, v) -> {
      if (k.startsWith("properties.")) {
        kafka.setProperty(k.substring("properties.".length()), v);
      }
    });
    DataType physical = context.getPhysicalRowDataType();
    RecordDecoder decoder = new RecordDecoder(o.getOptional(REGISTRY).map(RegistryClient::new).orElse(null));
    return new TributaryTableSource(
        physical,
        o.getOptional(TOPIC).orElse(null),
        o.getOptional(TOPIC_PATTERN).orElse(null),
        kafka,
        o.get(STARTUP),
        o.get(BOUNDED).equals("latest-offset"),
        errors.equals("include"),
        decoder);
  }
}

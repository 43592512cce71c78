// The `tributary` connector's table source: a KafkaSource reading records
// through TributaryRowDeserializer, with the metadata columns the query
// asks for. The table's watermark is pushed into the source so that it is
// kept per Kafka partition: assigned after the source, one subtask's
// interleaving of several partitions would make a partition that is behind
// look late and lose its rows.
package dev.tributary.flink.table;

import dev.tributary.flink.record.RecordDecoder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.connector.ProviderContext;
import org.apache.flink.table.connector.source.DataStreamScanProvider;
import org.apache.flink.table.connector.source.abilities.SupportsReadingMetadata;
import org.apache.flink.table.connector.source.abilities.SupportsWatermarkPushDown;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

/** The source. */
final class TributaryTableSource implements ScanTableSource, SupportsReadingMetadata, SupportsWatermarkPushDown {
  private final DataType physical;
  private final List<String> topics;
  private final String topicPattern;
  private final Properties kafka;
  private final String startup;
  private final boolean bounded;
  private final boolean includeErrors;
  private final RecordDecoder decoder;
  private List<String> metadataKeys = List.of();
  private DataType produced;
  private WatermarkStrategy<RowData> watermarks = WatermarkStrategy.noWatermarks();

  TributaryTableSource(
      DataType physical,
      List<String> topics,
      String topicPattern,
      Properties kafka,
      String startup,
      boolean bounded,
      boolean includeErrors,
      RecordDecoder decoder) {
    this.physical = physical;
    this.produced = physical;
    this.topics = topics;
    this.topicPattern = topicPattern;
    this.kafka = kafka;
    this.startup = startup;
    this.bounded = bounded;
    this.includeErrors = includeErrors;
    this.decoder = decoder;
  }

  @Override
  public ChangelogMode getChangelogMode() {
    return ChangelogMode.insertOnly();
  }

  @Override
  public ScanRuntimeProvider getScanRuntimeProvider(ScanContext context) {
    List<Metadata> metadata = new ArrayList<>();
    for (String k : metadataKeys) {
      metadata.add(Metadata.of(k));
    }
    TypeInformation<RowData> type = context.createTypeInformation(produced);
    TributaryRowDeserializer deserializer = new TributaryRowDeserializer(
        decoder, (RowType) physical.getLogicalType(), metadata, includeErrors, type);
    KafkaSourceBuilder<RowData> b = KafkaSource.<RowData>builder()
        .setBootstrapServers(kafka.getProperty("bootstrap.servers"))
        .setProperties(kafka)
        .setDeserializer(deserializer);
    if (topics != null) {
      b.setTopics(topics);
    } else {
      b.setTopicPattern(Pattern.compile(topicPattern));
    }
    if (kafka.getProperty("group.id") != null) {
      b.setGroupId(kafka.getProperty("group.id"));
    }
    b.setStartingOffsets(switch (startup) {
      case "earliest-offset" -> OffsetsInitializer.earliest();
      case "latest-offset" -> OffsetsInitializer.latest();
      default -> OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST);
    });
    if (bounded) {
      b.setBounded(OffsetsInitializer.latest());
    }
    KafkaSource<RowData> source = b.build();
    WatermarkStrategy<RowData> strategy = watermarks;
    String name = asSummaryString();
    return new DataStreamScanProvider() {
      @Override
      public DataStream<RowData> produceDataStream(ProviderContext provider, StreamExecutionEnvironment env) {
        DataStreamSource<RowData> stream = env.fromSource(source, strategy, name);
        provider.generateUid("tributary-source").ifPresent(stream::uid);
        return stream;
      }

      @Override
      public boolean isBounded() {
        return bounded;
      }
    };
  }

  @Override
  public void applyWatermark(WatermarkStrategy<RowData> strategy) {
    this.watermarks = strategy;
  }

  @Override
  public Map<String, DataType> listReadableMetadata() {
    return Metadata.all();
  }

  @Override
  public void applyReadableMetadata(List<String> keys, DataType producedDataType) {
    this.metadataKeys = keys;
    this.produced = producedDataType;
  }

  @Override
  public DynamicTableSource copy() {
    TributaryTableSource s = new TributaryTableSource(
        physical, topics, topicPattern, kafka, startup, bounded, includeErrors, decoder);
    s.metadataKeys = metadataKeys;
    s.produced = produced;
    s.watermarks = watermarks;
    return s;
  }

  @Override
  public String asSummaryString() {
    return "Tributary(" + (topics != null ? String.join(",", topics) : topicPattern) + ")";
  }
}

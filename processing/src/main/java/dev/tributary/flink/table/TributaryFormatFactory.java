// `'value.format' = 'tributary'` for Flink's Kafka connector: a Tributary
// record's value as the payload's columns, by the schema the value names
// (Confluent framing; the registry at `tributary.registry.url`). The value
// alone carries no envelope — the Kafka connector's formats never see
// headers — so the event name, ids and event time are the `tributary`
// connector's metadata columns; with the Kafka connector, read them from
// its `headers` metadata column (`headers['tb-message-id']`). Values that
// cannot be read are skipped and counted (`tributaryDecodeErrors`).
package dev.tributary.flink.table;

import dev.tributary.flink.record.DecodeException;
import dev.tributary.flink.record.RecordDecoder;
import dev.tributary.flink.registry.RegistryClient;
import java.util.Set;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.metrics.Counter;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;

/** The `tributary` value format. */
public final class TributaryFormatFactory implements DeserializationFormatFactory {
  public static final ConfigOption<String> REGISTRY =
      ConfigOptions.key("registry.url").stringType().noDefaultValue()
          .withDescription("The schema registry the values' schema ids are looked up in.");

  @Override
  public String factoryIdentifier() {
    return TributaryTableFactory.IDENTIFIER;
  }

  @Override
  public Set<ConfigOption<?>> requiredOptions() {
    return Set.of();
  }

  @Override
  public Set<ConfigOption<?>> optionalOptions() {
    return Set.of(REGISTRY);
  }

  @Override
  public DecodingFormat<DeserializationSchema<RowData>> createDecodingFormat(
      DynamicTableFactory.Context context, ReadableConfig options) {
    FactoryUtil.validateFactoryOptions(this, options);
    RecordDecoder decoder = new RecordDecoder(options.getOptional(REGISTRY).map(RegistryClient::new).orElse(null));
    return new DecodingFormat<>() {
      @Override
      public DeserializationSchema<RowData> createRuntimeDecoder(DynamicTableSource.Context ctx, DataType physical) {
        return new ValueDeserializer(decoder, (RowType) physical.getLogicalType(), ctx.createTypeInformation(physical));
      }

      @Override
      public ChangelogMode getChangelogMode() {
        return ChangelogMode.insertOnly();
      }
    };
  }

  /** Value → payload row. */
  static final class ValueDeserializer implements DeserializationSchema<RowData> {
    private static final long serialVersionUID = 1L;
    private final RecordDecoder decoder;
    private final RowType type;
    private final TypeInformation<RowData> produced;
    private transient RowConverter converter;
    private transient Counter errors;

    ValueDeserializer(RecordDecoder decoder, RowType type, TypeInformation<RowData> produced) {
      this.decoder = decoder;
      this.type = type;
      this.produced = produced;
    }

    @Override
    public void open(InitializationContext context) {
      converter = RowConverter.row(type);
      errors = context.getMetricGroup().counter("tributaryDecodeErrors");
    }

    @Override
    public RowData deserialize(byte[] message) throws java.io.IOException {
      if (converter == null) {
        converter = RowConverter.row(type);
      }
      try {
        return (RowData) converter.convert(decoder.payloadOfValue(message));
      } catch (DecodeException e) {
        if (e.reason().passing()) {
          throw e.retryLater("a value");
        }
        if (errors != null) {
          errors.inc();
        }
        return null;
      }
    }

    @Override
    public boolean isEndOfStream(RowData next) {
      return false;
    }

    @Override
    public TypeInformation<RowData> getProducedType() {
      return produced;
    }
  }
}

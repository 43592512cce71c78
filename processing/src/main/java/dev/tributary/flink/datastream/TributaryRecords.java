// Tributary records in the DataStream API: a KafkaSource deserializer that
// turns every record into an event or a decode error (never a failure),
// and the split into a stream of events with the errors as a side output.
//
//   KafkaSource<TributaryRecords.Read> source = KafkaSource.<TributaryRecords.Read>builder()
//       .setBootstrapServers(kafka).setTopics("tributary.order_completed")
//       .setDeserializer(TributaryRecords.deserializer("http://gateway:8080")).build();
//   SingleOutputStreamOperator<TributaryEvent> events = TributaryRecords.split(
//       env.fromSource(source, TributaryRecords.watermarks(Duration.ofSeconds(5)), "orders"));
//   DataStream<DecodeError> errors = events.getSideOutput(TributaryRecords.ERRORS);
package dev.tributary.flink.datastream;

import dev.tributary.flink.record.DecodeError;
import dev.tributary.flink.record.DecodeException;
import dev.tributary.flink.record.Envelope;
import dev.tributary.flink.record.RecordDecoder;
import dev.tributary.flink.record.TributaryEvent;
import dev.tributary.flink.registry.RegistryClient;
import java.time.Duration;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/** DataStream helpers. */
public final class TributaryRecords {
  private TributaryRecords() {}

  /** The side output of records that could not be read. */
  public static final OutputTag<DecodeError> ERRORS = new OutputTag<>("tributary-decode-errors") {};

  /** One record read: an event, or the error that kept it from being one. */
  public static class Read {
    public TributaryEvent event;
    public DecodeError error;

    public Read() {}
  }

  /** The KafkaSource deserializer, with schemas from `registryUrl` (null: `json` values only). */
  public static KafkaRecordDeserializationSchema<Read> deserializer(String registryUrl) {
    RecordDecoder decoder = new RecordDecoder(registryUrl == null ? null : new RegistryClient(registryUrl));
    return new KafkaRecordDeserializationSchema<>() {
      private static final long serialVersionUID = 1L;

      @Override
      public void deserialize(ConsumerRecord<byte[], byte[]> r, Collector<Read> out) throws java.io.IOException {
        Read read = new Read();
        try {
          Envelope e = Envelope.of(r.headers());
          if (e.heartbeat) {
            return;
          }
          read.event = TributaryEvent.of(e, decoder.payload(e, r.value()), r.topic(), r.partition(), r.offset());
        } catch (DecodeException x) {
          if (x.reason().passing()) {
            throw x.retryLater(r.topic() + "[" + r.partition() + "]@" + r.offset());
          }
          read.error = DecodeError.of(x, r.topic(), r.partition(), r.offset(), r.value());
        }
        out.collect(read);
      }

      @Override
      public TypeInformation<Read> getProducedType() {
        return TypeInformation.of(Read.class);
      }
    };
  }

  /**
   * Watermarks from the envelope's skew-corrected event time, allowing
   * `lateness` of disorder; partitions idle for a minute do not hold them.
   */
  public static WatermarkStrategy<Read> watermarks(Duration lateness) {
    return WatermarkStrategy.<Read>forBoundedOutOfOrderness(lateness)
        .withTimestampAssigner((r, ts) -> r.event != null ? r.event.eventTimeMs : ts)
        .withIdleness(Duration.ofMinutes(1));
  }

  /** The events of `reads`; the errors in its {@link #ERRORS} side output. */
  public static SingleOutputStreamOperator<TributaryEvent> split(DataStream<Read> reads) {
    return reads
        .process(new ProcessFunction<Read, TributaryEvent>() {
          @Override
          public void processElement(Read r, Context ctx, Collector<TributaryEvent> out) {
            if (r.event != null) {
              out.collect(r.event);
            } else {
              ctx.output(ERRORS, r.error);
            }
          }
        })
        .name("tributary-decode")
        .returns(TributaryEvent.class);
  }
}

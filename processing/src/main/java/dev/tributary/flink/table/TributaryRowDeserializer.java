// Kafka record → row for the `tributary` connector: the payload's columns
// (by name, from the decoded payload) followed by the metadata columns the
// query reads. A record that cannot be read is never a failure: it is
// counted (metric `tributaryDecodeErrors`) and, with `errors = 'include'`,
// emitted as a row whose payload columns are null and whose `error`
// column says why; heartbeat records are skipped.
package dev.tributary.flink.table;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tributary.flink.record.DecodeException;
import dev.tributary.flink.record.Envelope;
import dev.tributary.flink.record.RecordDecoder;
import java.util.List;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.metrics.Counter;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/** The connector's record reader. */
public final class TributaryRowDeserializer implements KafkaRecordDeserializationSchema<RowData> {
  private static final long serialVersionUID = 1L;

  private final RecordDecoder decoder;
  private final RowType payloadType;
  private final List<Metadata> metadata;
  private final boolean includeErrors;
  private final TypeInformation<RowData> producedType;
  private transient RowConverter payload;
  private transient Counter errors;

  TributaryRowDeserializer(
      RecordDecoder decoder,
      RowType payloadType,
      List<Metadata> metadata,
      boolean includeErrors,
      TypeInformation<RowData> producedType) {
    this.decoder = decoder;
    this.payloadType = payloadType;
    this.metadata = metadata;
    this.includeErrors = includeErrors;
    this.producedType = producedType;
  }

  @Override
  public void open(DeserializationSchema.InitializationContext context) {
    payload = RowConverter.row(payloadType);
    errors = context.getMetricGroup().counter("tributaryDecodeErrors");
  }

  @Override
  public void deserialize(ConsumerRecord<byte[], byte[]> r, Collector<RowData> out) throws java.io.IOException {
    if (payload == null) {
      payload = RowConverter.row(payloadType);
    }
    int width = payloadType.getFieldCount();
    GenericRowData row = new GenericRowData(width + metadata.size());
    Envelope e = null;
    String error = null;
    try {
      e = Envelope.of(r.headers());
      if (e.heartbeat) {
        return;
      }
      ObjectNode p = decoder.payload(e, r.value());
      GenericRowData values = (GenericRowData) payload.convert(p);
      for (int i = 0; i < width; i++) {
        row.setField(i, values.getField(i));
      }
    } catch (DecodeException x) {
      if (x.reason().passing()) {
        throw x.retryLater(r.topic() + "[" + r.partition() + "]@" + r.offset());
      }
      if (errors != null) {
        errors.inc();
      }
      if (!includeErrors) {
        return;
      }
      // The envelope's columns stay filled when only the value failed.
      error = x.reason().label() + ": " + x.getMessage();
    }
    for (int i = 0; i < metadata.size(); i++) {
      row.setField(width + i, metadata.get(i).reader.read(e, r, error));
    }
    out.collect(row);
  }

  @Override
  public TypeInformation<RowData> getProducedType() {
    return producedType;
  }
}

// The metadata columns of the `tributary` connector: the envelope, the
// record's place in Kafka, and the decode error of a record that could not
// be read (null for events).
package dev.tributary.flink.table;

import dev.tributary.flink.record.Envelope;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.DataType;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/** One metadata column: its key, type and how it is read. */
public enum Metadata {
  EVENT_TYPE("event_type", DataTypes.STRING(), (e, r, err) -> str(e == null ? null : e.eventType)),
  EVENT_NAME("event_name", DataTypes.STRING(), (e, r, err) -> str(e == null ? null : e.eventName)),
  MESSAGE_ID("message_id", DataTypes.STRING(), (e, r, err) -> str(e == null ? null : e.messageId)),
  APP_ID("app_id", DataTypes.STRING(), (e, r, err) -> str(e == null ? null : e.appId)),
  USER_ID("user_id", DataTypes.STRING(), (e, r, err) -> str(e == null ? null : e.userId)),
  ANONYMOUS_ID("anonymous_id", DataTypes.STRING(), (e, r, err) -> str(e == null ? null : e.anonymousId)),
  /** The user id, else the anonymous id: who the event is about. */
  USER_KEY("user_key", DataTypes.STRING(), (e, r, err) -> str(e == null ? null : e.userKey())),
  /** The skew-corrected event time (`tb-timestamp`): declare the watermark on it. */
  EVENT_TIME("event_time", DataTypes.TIMESTAMP_LTZ(3), (e, r, err) -> e == null ? null : TimestampData.fromEpochMillis(e.eventTimeMs)),
  RECEIVED_AT("received_at", DataTypes.TIMESTAMP_LTZ(3), (e, r, err) -> e == null ? null : TimestampData.fromEpochMillis(e.receivedAtMs)),
  SCHEMA_ID("schema_id", DataTypes.INT(), (e, r, err) -> e == null ? null : e.schemaId),
  CUSTOM_ATTRIBUTES("custom_attributes", DataTypes.STRING(), (e, r, err) -> str(e == null ? null : e.customAttributes)),
  CONTEXT("context", DataTypes.STRING(), (e, r, err) -> str(e == null ? null : e.context)),
  TOPIC("topic", DataTypes.STRING(), (e, r, err) -> str(r.topic())),
  PARTITION("partition", DataTypes.INT(), (e, r, err) -> r.partition()),
  OFFSET("offset", DataTypes.BIGINT(), (e, r, err) -> r.offset()),
  /** `<reason>: <message>` for a record that could not be read (see `errors`). */
  ERROR("error", DataTypes.STRING(), (e, r, err) -> str(err));

  /** Reads one column of a record. */
  @FunctionalInterface
  interface Reader extends Serializable {
    Object read(Envelope e, ConsumerRecord<byte[], byte[]> r, String error);
  }

  final String key;
  final DataType type;
  final Reader reader;

  Metadata(String key, DataType type, Reader reader) {
    this.key = key;
    this.type = type;
    this.reader = reader;
  }

  private static StringData str(String s) {
    return s == null ? null : StringData.fromString(s);
  }

  /** Every key and its type, as the planner lists them. */
  static Map<String, DataType> all() {
    Map<String, DataType> m = new LinkedHashMap<>();
    for (Metadata x : values()) {
      m.put(x.key, x.type);
    }
    return m;
  }

  /** The column of `key`. */
  static Metadata of(String key) {
    for (Metadata x : values()) {
      if (x.key.equals(key)) {
        return x;
      }
    }
    throw new IllegalArgumentException("no metadata column " + key);
  }
}

// Writes events back to Kafka as Tributary records — envelope in headers,
// the payload as the value — so that the pipeline offloads a job's output
// (session rows) into a table like any event the gateway wrote. With a
// schema id the value is the payload in the Confluent framing
// (`confluent-json`, typed columns in the lake); without one, the
// normalised event (`json`, the payload in `p__extra`).
package dev.tributary.flink.record;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;

/** Event → Kafka record. */
public final class RecordWriter implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String topic;
  private final Integer schemaId;

  /** Records for `topic`, encoded with `schemaId` (null: the `json` encoding). */
  public RecordWriter(String topic, Integer schemaId) {
    this.topic = topic;
    this.schemaId = schemaId;
  }

  /** The record of a track event. */
  public ProducerRecord<byte[], byte[]> track(
      String app, String event, String messageId, String userId, String anonymousId,
      long eventTimeMs, long receivedAtMs, ObjectNode properties) {
    List<Header> h = new ArrayList<>();
    add(h, Envelope.EVENT_TYPE, "track");
    add(h, Envelope.EVENT_NAME, event);
    add(h, Envelope.MESSAGE_ID, messageId);
    add(h, Envelope.APP_ID, app);
    add(h, Envelope.SCHEMA, schemaId == null ? "none" : schemaId.toString());
    add(h, Envelope.ENCODING, schemaId == null ? "json" : "confluent-json");
    add(h, Envelope.TIMESTAMP, Instant.ofEpochMilli(eventTimeMs).toString());
    add(h, Envelope.RECEIVED_AT, Instant.ofEpochMilli(receivedAtMs).toString());
    add(h, Envelope.USER_ID, userId);
    add(h, Envelope.ANONYMOUS_ID, anonymousId);
    byte[] value;
    if (schemaId == null) {
      ObjectNode e = JSON.createObjectNode();
      e.put("type", "track").put("event", event).put("messageId", messageId);
      if (userId != null) {
        e.put("userId", userId);
      }
      if (anonymousId != null) {
        e.put("anonymousId", anonymousId);
      }
      e.put("timestamp", Instant.ofEpochMilli(eventTimeMs).toString());
      e.put("receivedAt", Instant.ofEpochMilli(receivedAtMs).toString());
      e.set("properties", properties);
      value = e.toString().getBytes(StandardCharsets.UTF_8);
    } else {
      byte[] text = properties.toString().getBytes(StandardCharsets.UTF_8);
      value = ByteBuffer.allocate(5 + text.length).put((byte) 0).putInt(schemaId).put(text).array();
    }
    String key = userId != null ? userId : anonymousId;
    return new ProducerRecord<>(topic, null, key == null ? null : key.getBytes(StandardCharsets.UTF_8), value, h);
  }

  private static void add(List<Header> h, String name, String value) {
    if (value != null) {
      h.add(new RecordHeader(name, value.getBytes(StandardCharsets.UTF_8)));
    }
  }
}

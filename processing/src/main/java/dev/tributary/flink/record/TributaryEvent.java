// An event as the DataStream API sees it: the envelope, the payload as JSON
// text, and where it was in Kafka. A POJO (public fields, no-argument
// constructor), so Flink serializes it without Kryo.
package dev.tributary.flink.record;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** One event. */
public class TributaryEvent {
  private static final ObjectMapper JSON = new ObjectMapper();

  public String eventType;
  public String eventName;
  public String messageId;
  public String appId;
  public String userId;
  public String anonymousId;
  /** Skew-corrected event time, ms. */
  public long eventTimeMs;
  /** Gateway receipt, ms. */
  public long receivedAtMs;
  public Integer schemaId;
  /** The event's custom attributes, compact JSON (or null). */
  public String customAttributes;
  /** The event's context, compact JSON (or null). */
  public String context;
  /** The payload (properties or traits), compact JSON. */
  public String payload;
  public String topic;
  public int partition;
  public long offset;

  public TributaryEvent() {}

  /** The event of envelope `e` and payload `p`, read at `topic`/`partition`/`offset`. */
  public static TributaryEvent of(Envelope e, JsonNode p, String topic, int partition, long offset) {
    TributaryEvent t = new TributaryEvent();
    t.eventType = e.eventType;
    t.eventName = e.eventName;
    t.messageId = e.messageId;
    t.appId = e.appId;
    t.userId = e.userId;
    t.anonymousId = e.anonymousId;
    t.eventTimeMs = e.eventTimeMs;
    t.receivedAtMs = e.receivedAtMs;
    t.schemaId = e.schemaId;
    t.customAttributes = e.customAttributes;
    t.context = e.context;
    t.payload = p.toString();
    t.topic = topic;
    t.partition = partition;
    t.offset = offset;
    return t;
  }

  /** The user key: the user id, else the anonymous id. */
  public String userKey() {
    return userId != null ? userId : anonymousId;
  }

  /** The payload parsed. */
  public JsonNode payloadJson() {
    try {
      return JSON.readTree(payload);
    } catch (java.io.IOException e) {
      return JSON.createObjectNode();
    }
  }
}

// The Tributary envelope, read from a Kafka record's headers: what the
// gateway says about the event (docs/contract.md, "Headers"). Every header
// value is UTF-8 text; absent headers are null here.
package dev.tributary.flink.record;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/** One record's envelope. */
public final class Envelope implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The header names (the contract's). */
  public static final String EVENT_TYPE = "tb-event-type";
  public static final String EVENT_NAME = "tb-event-name";
  public static final String MESSAGE_ID = "tb-message-id";
  public static final String APP_ID = "tb-app-id";
  public static final String SCHEMA = "tb-schema";
  public static final String ENCODING = "tb-encoding";
  public static final String TIMESTAMP = "tb-timestamp";
  public static final String CLIENT_TIMESTAMP = "tb-client-timestamp";
  public static final String SENT_AT = "tb-sent-at";
  public static final String RECEIVED_AT = "tb-received-at";
  public static final String CUSTOM_ATTRIBUTES = "tb-custom-attributes";
  public static final String USER_ID = "tb-user-id";
  public static final String ANONYMOUS_ID = "tb-anonymous-id";
  public static final String CONTEXT = "tb-context";
  public static final String EXTRA = "tb-extra";
  public static final String ENRICHMENT = "tb-enrichment";
  public static final String HOT_KEY = "tb-hot-key";
  public static final String HEARTBEAT = "tb-heartbeat";

  public String eventType;
  public String eventName;
  public String messageId;
  public String appId;
  /** The schema id, or null for `none`. */
  public Integer schemaId;
  /** `json`, `confluent-json` or `confluent-protobuf`. */
  public String encoding;
  /** Skew-corrected event time, ms since the epoch (the watermark's clock). */
  public long eventTimeMs;
  public Long clientTimeMs;
  public Long sentAtMs;
  public long receivedAtMs;
  /** Compact JSON texts. */
  public String customAttributes;
  public String context;
  public String extra;
  public String enrichment;
  public String userId;
  public String anonymousId;
  public boolean hotKey;
  /** A heartbeat record: no event (consumers skip it). */
  public boolean heartbeat;

  /** The envelope of `headers`; a missing or unreadable required header is a {@link DecodeException}. */
  public static Envelope of(Headers headers) throws DecodeException {
    Envelope e = new Envelope();
    for (Header h : headers) {
      if (h.value() == null) {
        continue;
      }
      String v = new String(h.value(), StandardCharsets.UTF_8);
      switch (h.key()) {
        case EVENT_TYPE -> e.eventType = v;
        case EVENT_NAME -> e.eventName = v;
        case MESSAGE_ID -> e.messageId = v;
        case APP_ID -> e.appId = v;
        case SCHEMA -> e.schemaId = "none".equals(v) ? null : parseId(v);
        case ENCODING -> e.encoding = v;
        case TIMESTAMP -> e.eventTimeMs = time(v, TIMESTAMP);
        case CLIENT_TIMESTAMP -> e.clientTimeMs = time(v, CLIENT_TIMESTAMP);
        case SENT_AT -> e.sentAtMs = time(v, SENT_AT);
        case RECEIVED_AT -> e.receivedAtMs = time(v, RECEIVED_AT);
        case CUSTOM_ATTRIBUTES -> e.customAttributes = v;
        case USER_ID -> e.userId = v;
        case ANONYMOUS_ID -> e.anonymousId = v;
        case CONTEXT -> e.context = v;
        case EXTRA -> e.extra = v;
        case ENRICHMENT -> e.enrichment = v;
        case HOT_KEY -> e.hotKey = "true".equals(v);
        case HEARTBEAT -> e.heartbeat = "true".equals(v);
        default -> {}
      }
    }
    if (e.heartbeat) {
      return e;
    }
    if (e.messageId == null || e.eventName == null || e.appId == null || e.encoding == null) {
      throw new DecodeException(
          DecodeException.Reason.NOT_TRIBUTARY, "not a Tributary record: envelope headers missing");
    }
    return e;
  }

  /** The user key of the event: the user id, else the anonymous id. */
  public String userKey() {
    return userId != null ? userId : anonymousId;
  }

  private static Integer parseId(String v) throws DecodeException {
    try {
      return Integer.valueOf(v);
    } catch (NumberFormatException x) {
      throw new DecodeException(DecodeException.Reason.NOT_TRIBUTARY, SCHEMA + " is not a schema id: " + v);
    }
  }

  private static long time(String v, String name) throws DecodeException {
    try {
      return Instant.parse(v).toEpochMilli();
    } catch (DateTimeParseException x) {
      throw new DecodeException(DecodeException.Reason.NOT_TRIBUTARY, name + " is not an RFC 3339 time: " + v);
    }
  }
}

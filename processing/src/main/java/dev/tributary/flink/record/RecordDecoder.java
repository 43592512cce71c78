// A record's payload — the event's properties (traits for identify and
// group) — as JSON, by the value's encoding (docs/contract.md, "Value"):
// `json` (the normalised event; the payload is inside it),
// `confluent-json` (byte 00, the schema id, the JSON text) or
// `confluent-protobuf` (byte 00, the id, the message-index array, the
// message; read with the registry's descriptor and written as JSON with
// protobuf's JSON mapping and proto field names, as the lake does).
package dev.tributary.flink.record;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.tributary.flink.record.DecodeException.Reason;
import dev.tributary.flink.registry.RegisteredSchema;
import dev.tributary.flink.registry.RegistryClient;
import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;

/** Reads payloads. */
public final class RecordDecoder implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final RegistryClient registry;

  /** A decoder asking `registry` for schema-encoded values (null: `json` values only). */
  public RecordDecoder(RegistryClient registry) {
    this.registry = registry;
  }

  /** The payload of a record with envelope `e` and value `value`. */
  public ObjectNode payload(Envelope e, byte[] value) throws DecodeException {
    if (value == null) {
      throw new DecodeException(Reason.CORRUPT_VALUE, "the record has no value");
    }
    return switch (e.encoding) {
      case "json" -> {
        JsonNode event = readObject(value, 0);
        // A `json` record keeps its context in the value, not in tb-context.
        if (e.context == null && event.get("context") instanceof ObjectNode c) {
          e.context = c.toString();
        }
        String type = e.eventType != null ? e.eventType : event.path("type").asText();
        JsonNode p = event.get("identify".equals(type) || "group".equals(type) ? "traits" : "properties");
        yield p instanceof ObjectNode o ? o : JSON.createObjectNode();
      }
      case "confluent-json" -> {
        Frame f = frame(e, value);
        // The id must be a JSON Schema the registry knows: a value under an
        // unknown id is not an event of any known shape.
        if (registry != null && registry.byId(f.schemaId).type() != RegisteredSchema.Type.JSON) {
          throw new DecodeException(Reason.CORRUPT_VALUE, "schema " + f.schemaId + " is not a JSON Schema");
        }
        yield readObject(value, f.offset);
      }
      case "confluent-protobuf" -> protobuf(e, value);
      default -> throw new DecodeException(Reason.NOT_TRIBUTARY, "unknown tb-encoding " + e.encoding);
    };
  }

  /**
   * The payload of a value read without its headers (the Kafka connector's
   * value formats see only the value): a Confluent-framed value by its
   * schema's language, anything else as the normalised event JSON.
   */
  public ObjectNode payloadOfValue(byte[] value) throws DecodeException {
    Envelope e = new Envelope();
    e.encoding = "json";
    if (value != null && value.length >= 5 && value[0] == 0) {
      if (registry == null) {
        throw new DecodeException(Reason.UNKNOWN_SCHEMA, "a schema-encoded value needs registry.url");
      }
      RegisteredSchema s = registry.byId(ByteBuffer.wrap(value, 1, 4).getInt());
      e.encoding = s.type() == RegisteredSchema.Type.JSON ? "confluent-json" : "confluent-protobuf";
    }
    return payload(e, value);
  }

  /** The schema id and where the rest starts in a Confluent-framed value. */
  private record Frame(int schemaId, int offset) {}

  private Frame frame(Envelope e, byte[] value) throws DecodeException {
    if (value.length < 5 || value[0] != 0) {
      throw new DecodeException(Reason.CORRUPT_VALUE, "not in the Confluent wire format (magic byte 00, then a 4-byte schema id)");
    }
    int id = ByteBuffer.wrap(value, 1, 4).getInt();
    if (e.schemaId != null && e.schemaId != id) {
      throw new DecodeException(Reason.CORRUPT_VALUE, "framed schema id " + id + " is not tb-schema " + e.schemaId);
    }
    return new Frame(id, 5);
  }

  private ObjectNode readObject(byte[] value, int offset) throws DecodeException {
    try {
      JsonNode n = JSON.readTree(value, offset, value.length - offset);
      if (n instanceof ObjectNode o) {
        return o;
      }
      throw new DecodeException(Reason.CORRUPT_VALUE, "the value is not a JSON object");
    } catch (IOException x) {
      throw new DecodeException(Reason.CORRUPT_VALUE, "the value is not JSON: " + x.getMessage());
    }
  }

  private ObjectNode protobuf(Envelope e, byte[] value) throws DecodeException {
    Frame f = frame(e, value);
    if (registry == null) {
      throw new DecodeException(Reason.UNKNOWN_SCHEMA, "a protobuf value needs registry.url");
    }
    RegisteredSchema s = registry.byId(f.schemaId);
    if (s.type() != RegisteredSchema.Type.PROTOBUF) {
      throw new DecodeException(Reason.CORRUPT_VALUE, "schema " + f.schemaId + " is not protobuf");
    }
    ByteBuffer b = ByteBuffer.wrap(value, f.offset, value.length - f.offset);
    int[] indexes;
    try {
      int count = zigzag(varint(b));
      if (count < 0 || count > 64) {
        throw new DecodeException(Reason.CORRUPT_VALUE, "bad message-index count " + count);
      }
      indexes = new int[count == 0 ? 1 : count];
      for (int i = 0; i < count; i++) {
        indexes[i] = zigzag(varint(b));
      }
    } catch (IndexOutOfBoundsException | java.nio.BufferUnderflowException x) {
      throw new DecodeException(Reason.CORRUPT_VALUE, "the message-index array is cut short");
    }
    try {
      DynamicMessage m = DynamicMessage.parseFrom(s.message(indexes),
          CodedInputStream.newInstance(value, b.position(), value.length - b.position()));
      String text = JsonFormat.printer().preservingProtoFieldNames().omittingInsignificantWhitespace().print(m);
      return (ObjectNode) JSON.readTree(text);
    } catch (InvalidProtocolBufferException | IndexOutOfBoundsException x) {
      throw new DecodeException(Reason.CORRUPT_VALUE, "the value does not decode as " + s.protobuf().getFullName() + ": " + x.getMessage());
    } catch (IOException x) {
      // protobuf's own JSON printer wrote it: an object, always.
      throw new DecodeException(Reason.CORRUPT_VALUE, "protobuf's JSON did not parse: " + x.getMessage());
    }
  }

  private static long varint(ByteBuffer b) throws DecodeException {
    long v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      byte x = b.get();
      v |= (long) (x & 0x7f) << shift;
      if ((x & 0x80) == 0) {
        return v;
      }
    }
    throw new DecodeException(Reason.CORRUPT_VALUE, "a varint is too long");
  }

  private static int zigzag(long v) {
    return (int) ((v >>> 1) ^ -(v & 1));
  }
}

// One schema version as the registry serves it by id, ready to decode
// values: a JSON Schema, or a protobuf file's descriptor.
package dev.tributary.flink.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Descriptors.Descriptor;

/** A registered schema: its id and how to read its values. */
public record RegisteredSchema(int id, Type type, JsonNode jsonSchema, Descriptor protobuf) {
  /** The schema language. */
  public enum Type {
    JSON,
    PROTOBUF
  }

  /** The protobuf message at `indexes` (the Confluent framing's message index path). */
  public Descriptor message(int[] indexes) {
    Descriptor d = null;
    for (int i = 0; i < indexes.length; i++) {
      d = i == 0
          ? protobuf.getFile().getMessageTypes().get(indexes[0])
          : d.getNestedTypes().get(indexes[i]);
    }
    return d == null ? protobuf : d;
  }
}

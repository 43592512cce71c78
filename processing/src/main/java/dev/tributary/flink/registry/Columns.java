// The payload columns of a schema as Flink SQL types, the same shape the
// lake gives them (pipeline/src/column_type.rs): strings and enums STRING,
// integers BIGINT, numbers DOUBLE, booleans BOOLEAN, objects with declared
// properties ROW, objects of one value type MAP<STRING, _>, arrays ARRAY;
// anything else (unions, oneOf, well-known protobuf types, recursion) the
// value's JSON text as STRING. Protobuf fields by their proto names.
package dev.tributary.flink.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.types.DataType;

/** Schema → Flink types. */
public final class Columns {
  private Columns() {}

  /** Nesting followed at most; deeper values are JSON text. */
  static final int MAX_DEPTH = 8;

  /** The payload's columns: name and type, in the schema's order. */
  public static List<DataTypes.Field> of(RegisteredSchema s) {
    return s.type() == RegisteredSchema.Type.JSON
        ? jsonFields(s.jsonSchema(), s.jsonSchema(), 0)
        : protoFields(s.protobuf(), 0);
  }

  private static List<DataTypes.Field> jsonFields(JsonNode root, JsonNode schema, int depth) {
    List<DataTypes.Field> out = new ArrayList<>();
    Iterator<Map.Entry<String, JsonNode>> it = resolve(root, schema, 0).path("properties").fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> p = it.next();
      out.add(DataTypes.FIELD(p.getKey(), json(root, p.getValue(), depth + 1)));
    }
    return out;
  }

  private static JsonNode resolve(JsonNode root, JsonNode schema, int hops) {
    JsonNode ref = schema.get("$ref");
    if (ref == null || hops > MAX_DEPTH || !ref.asText().startsWith("#")) {
      return schema;
    }
    JsonNode target = root.at(ref.asText().substring(1));
    return target.isMissingNode() ? schema : resolve(root, target, hops + 1);
  }

  private static DataType json(JsonNode root, JsonNode schema, int depth) {
    schema = resolve(root, schema, 0);
    List<String> types = new ArrayList<>();
    JsonNode t = schema.get("type");
    if (t != null && t.isTextual()) {
      types.add(t.asText());
    } else if (t != null && t.isArray()) {
      t.forEach(x -> {
        if (!"null".equals(x.asText())) {
          types.add(x.asText());
        }
      });
    }
    if (types.isEmpty()) {
      // An enum (of strings: the string; of other values: its JSON text)
      // or a shape no type names.
      return DataTypes.STRING();
    }
    if (types.size() == 2 && types.contains("integer") && types.contains("number")) {
      return DataTypes.DOUBLE();
    }
    if (types.size() != 1) {
      return DataTypes.STRING();
    }
    switch (types.get(0)) {
      case "string":
        return DataTypes.STRING();
      case "integer":
        return DataTypes.BIGINT();
      case "number":
        return DataTypes.DOUBLE();
      case "boolean":
        return DataTypes.BOOLEAN();
      case "array":
        if (depth >= MAX_DEPTH) {
          return DataTypes.STRING();
        }
        JsonNode items = schema.get("items");
        return DataTypes.ARRAY(items != null && items.isObject() ? json(root, items, depth + 1) : DataTypes.STRING());
      case "object":
        if (depth >= MAX_DEPTH) {
          return DataTypes.STRING();
        }
        List<DataTypes.Field> fields = jsonFields(root, schema, depth);
        if (!fields.isEmpty()) {
          return DataTypes.ROW(fields.toArray(new DataTypes.Field[0]));
        }
        JsonNode additional = schema.get("additionalProperties");
        return additional != null && additional.isObject()
            ? DataTypes.MAP(DataTypes.STRING(), json(root, additional, depth + 1))
            : DataTypes.STRING();
      default:
        return DataTypes.STRING();
    }
  }

  private static List<DataTypes.Field> protoFields(Descriptor d, int depth) {
    List<DataTypes.Field> out = new ArrayList<>();
    for (FieldDescriptor f : d.getFields()) {
      out.add(DataTypes.FIELD(f.getName(), proto(f, depth)));
    }
    return out;
  }

  private static DataType proto(FieldDescriptor f, int depth) {
    if (f.isMapField()) {
      FieldDescriptor value = f.getMessageType().findFieldByNumber(2);
      return depth >= MAX_DEPTH ? DataTypes.STRING() : DataTypes.MAP(DataTypes.STRING(), scalar(value, depth + 1));
    }
    DataType t = scalar(f, depth);
    return f.isRepeated() ? DataTypes.ARRAY(t) : t;
  }

  private static DataType scalar(FieldDescriptor f, int depth) {
    return switch (f.getJavaType()) {
      case STRING, BYTE_STRING, ENUM -> DataTypes.STRING();
      case INT, LONG -> DataTypes.BIGINT();
      case FLOAT, DOUBLE -> DataTypes.DOUBLE();
      case BOOLEAN -> DataTypes.BOOLEAN();
      case MESSAGE -> f.getMessageType().getFullName().startsWith("google.protobuf.") || depth >= MAX_DEPTH
          ? DataTypes.STRING()
          : DataTypes.ROW(protoFields(f.getMessageType(), depth + 1).toArray(new DataTypes.Field[0]));
    };
  }
}

// JSON → Flink's internal row data, for a target row type: each column
// filled by the lake's rules (docs/pipeline.md, "Columns"): a string column
// takes a string as it is and any other value as its JSON text; a BIGINT
// an integer or a string holding one (protobuf's JSON mapping writes
// 64-bit integers so); a DOUBLE a number or such a string; a BOOLEAN
// true/false; ROW, ARRAY and MAP their parts by the same rules. Anything
// else is null. The converters are built once per type.
package dev.tributary.flink.table;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericMapData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.MapType;
import org.apache.flink.table.types.logical.RowType;

/** Converts JSON values to one logical type. */
@FunctionalInterface
public interface RowConverter extends Serializable {
  /** The internal value of `n` (null for missing, null, or a mismatch). */
  Object convert(JsonNode n);

  /** The converter of `t`. */
  static RowConverter of(LogicalType t) {
    RowConverter c = switch (t.getTypeRoot()) {
      case CHAR, VARCHAR -> n -> StringData.fromString(n.isTextual() ? n.asText() : n.toString());
      case BIGINT, INTEGER -> {
        boolean wide = t.getTypeRoot() == org.apache.flink.table.types.logical.LogicalTypeRoot.BIGINT;
        yield n -> {
          Long v = null;
          if (n.isIntegralNumber() && n.canConvertToLong()) {
            v = n.asLong();
          } else if (n.isTextual()) {
            try {
              v = Long.parseLong(n.asText());
            } catch (NumberFormatException e) {
              return null;
            }
          }
          return v == null ? null : wide ? (Object) v : (Object) v.intValue();
        };
      }
      case DOUBLE, FLOAT -> n -> {
        Double v = null;
        if (n.isNumber()) {
          v = n.asDouble();
        } else if (n.isTextual()) {
          try {
            v = Double.parseDouble(n.asText());
          } catch (NumberFormatException e) {
            return null;
          }
        }
        return v == null ? null : t.getTypeRoot() == org.apache.flink.table.types.logical.LogicalTypeRoot.FLOAT ? (Object) v.floatValue() : (Object) v;
      };
      case BOOLEAN -> n -> n.isBoolean() ? n.asBoolean() : null;
      case TIMESTAMP_WITH_LOCAL_TIME_ZONE, TIMESTAMP_WITHOUT_TIME_ZONE -> n -> n.isIntegralNumber()
          ? TimestampData.fromEpochMillis(n.asLong())
          : null;
      case ROW -> row((RowType) t);
      case ARRAY -> {
        RowConverter e = of(((ArrayType) t).getElementType());
        yield n -> {
          if (!n.isArray()) {
            return null;
          }
          Object[] out = new Object[n.size()];
          for (int i = 0; i < out.length; i++) {
            out[i] = e.convert(n.get(i));
          }
          return new GenericArrayData(out);
        };
      }
      case MAP -> {
        RowConverter v = of(((MapType) t).getValueType());
        yield n -> {
          if (!n.isObject()) {
            return null;
          }
          Map<Object, Object> out = new HashMap<>();
          Iterator<Map.Entry<String, JsonNode>> it = n.fields();
          while (it.hasNext()) {
            Map.Entry<String, JsonNode> kv = it.next();
            out.put(StringData.fromString(kv.getKey()), v.convert(kv.getValue()));
          }
          return new GenericMapData(out);
        };
      }
      default -> n -> null;
    };
    return n -> n == null || n.isNull() || n.isMissingNode() ? null : c.convert(n);
  }

  /** A row's fields from an object's keys of the same names. */
  static RowConverter row(RowType t) {
    List<String> names = t.getFieldNames();
    List<RowConverter> fields = new ArrayList<>();
    for (RowType.RowField f : t.getFields()) {
      fields.add(of(f.getType()));
    }
    return n -> {
      if (!n.isObject()) {
        return null;
      }
      GenericRowData r = new GenericRowData(names.size());
      for (int i = 0; i < names.size(); i++) {
        r.setField(i, fields.get(i).convert(n.get(names.get(i))));
      }
      return r;
    };
  }
}

// Protobuf's well-known types, for schemas that import them.
package dev.tributary.flink.registry;

import com.google.protobuf.Descriptors.FileDescriptor;
import java.util.Map;

final class WellKnown {
  private WellKnown() {}

  private static final Map<String, FileDescriptor> FILES = Map.of(
      "google/protobuf/timestamp.proto", com.google.protobuf.TimestampProto.getDescriptor(),
      "google/protobuf/duration.proto", com.google.protobuf.DurationProto.getDescriptor(),
      "google/protobuf/wrappers.proto", com.google.protobuf.WrappersProto.getDescriptor(),
      "google/protobuf/struct.proto", com.google.protobuf.StructProto.getDescriptor(),
      "google/protobuf/empty.proto", com.google.protobuf.EmptyProto.getDescriptor(),
      "google/protobuf/any.proto", com.google.protobuf.AnyProto.getDescriptor());

  /** The well-known file of import `name`, or null. */
  static FileDescriptor file(String name) {
    return FILES.get(name);
  }
}

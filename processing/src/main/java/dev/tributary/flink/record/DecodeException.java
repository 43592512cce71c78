// Why a record could not be read. A record that cannot be read goes to the
// job's error output with this reason and the job goes on — unless the
// reason is passing (the registry could not be asked): then the record is
// fine and skipping it would lose it, so the task fails and Flink restarts
// it from its last checkpoint, reading the record again.
package dev.tributary.flink.record;

/** A record that cannot be read, and why. */
public final class DecodeException extends Exception {
  private static final long serialVersionUID = 1L;

  /** The reasons, as the error output names them. */
  public enum Reason {
    /** No Tributary envelope, or one that does not parse. */
    NOT_TRIBUTARY("not_tributary"),
    /** The value's schema id is not in the registry. */
    UNKNOWN_SCHEMA("unknown_schema"),
    /** The registry could not be asked. */
    REGISTRY_UNREACHABLE("registry_unreachable"),
    /** The value does not decode by its schema (truncated, garbage, wrong framing). */
    CORRUPT_VALUE("corrupt_value");

    private final String label;

    Reason(String label) {
      this.label = label;
    }

    /** Whether the record itself may be fine: read it again later rather than skip it. */
    public boolean passing() {
      return this == REGISTRY_UNREACHABLE;
    }

    /** The reason's name in the error output. */
    public String label() {
      return label;
    }
  }

  private final Reason reason;

  public DecodeException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }

  /** For a passing reason: the failure that makes Flink restart the task and read the record again. */
  public java.io.IOException retryLater(String where) {
    return new java.io.IOException(where + ": " + reason.label() + ": " + getMessage() + "; the task restarts from its last checkpoint", this);
  }
}

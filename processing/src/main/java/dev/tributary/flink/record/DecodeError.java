// A record the job could not read: where it was, why, and its bytes — what
// the error output (a side output, or the error rows of the connector)
// carries. A POJO, like TributaryEvent.
package dev.tributary.flink.record;

/** One unreadable record. */
public class DecodeError {
  public String topic;
  public int partition;
  public long offset;
  /** {@link DecodeException.Reason#label()}. */
  public String reason;
  public String message;
  public byte[] value;

  public DecodeError() {}

  public static DecodeError of(DecodeException e, String topic, int partition, long offset, byte[] value) {
    DecodeError d = new DecodeError();
    d.topic = topic;
    d.partition = partition;
    d.offset = offset;
    d.reason = e.reason().label();
    d.message = e.getMessage();
    d.value = value;
    return d;
  }

  @Override
  public String toString() {
    return topic + "[" + partition + "]@" + offset + ": " + reason + ": " + message;
  }
}

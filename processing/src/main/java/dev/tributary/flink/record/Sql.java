// Small pieces of Flink SQL text the jobs write.
package dev.tributary.flink.record;

import java.time.Duration;

/** SQL text. */
public final class Sql {
  private Sql() {}

  /**
   * A duration as a day-to-second interval literal (`INTERVAL '0 00:30:00.000' DAY TO SECOND`).
   * A plain `SECOND` literal has a leading precision of two digits, so a half-hour gap
   * written as 1800 seconds would be rejected by the planner.
   */
  public static String interval(Duration d) {
    long ms = d.toMillis();
    return String.format(
        "INTERVAL '%d %02d:%02d:%02d.%03d' DAY TO SECOND",
        ms / 86_400_000, ms / 3_600_000 % 24, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
  }
}

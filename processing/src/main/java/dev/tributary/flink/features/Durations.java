// The one way durations are written in feature files and on the command
// line: a whole number and a unit (500ms, 5s, 20m, 1h, 7d).
package dev.tributary.flink.features;

import java.time.Duration;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Duration text. */
public final class Durations {
  private Durations() {}

  private static final Pattern FORM = Pattern.compile("(\\d{1,12})\\s*(ms|s|m|h|d)");

  /** What to say when a text is not a duration. */
  public static String problem(String text) {
    return "`" + text + "` is not a duration (e.g. 500ms, 5s, 20m, 1h)";
  }

  /** `text` as a duration, or nothing when it is not one. */
  public static Optional<Duration> parse(String text) {
    Matcher m = FORM.matcher(text.trim());
    if (!m.matches()) {
      return Optional.empty();
    }
    long n = Long.parseLong(m.group(1));
    return Optional.of(switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    });
  }
}

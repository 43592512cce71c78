// An event name's slug, as the gateway names topics and registry subjects
// by it (contract/src/topic.rs): lower case, runs of characters Kafka does
// not allow in names as one `_`, trimmed, at most 200 characters.
package dev.tributary.flink.record;

/** Event name → slug. */
public final class Slug {
  private Slug() {}

  public static String of(String name) {
    StringBuilder out = new StringBuilder();
    for (char c : name.toCharArray()) {
      boolean ascii = c < 128 && (Character.isLetterOrDigit(c) || c == '.' || c == '-' || c == '_');
      if (ascii) {
        out.append(Character.toLowerCase(c));
      } else if (out.length() == 0 || out.charAt(out.length() - 1) != '_') {
        out.append('_');
      }
    }
    int a = 0;
    int b = out.length();
    while (a < b && out.charAt(a) == '_') {
      a++;
    }
    while (b > a && out.charAt(b - 1) == '_') {
      b--;
    }
    String s = a == b ? "_" : out.substring(a, b);
    return s.length() > 200 ? s.substring(0, 200) : s;
  }
}

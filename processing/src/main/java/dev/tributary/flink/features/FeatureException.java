// A mistake in a feature file, pointing at the line it is on.
package dev.tributary.flink.features;

/** What is wrong, and where in the file. */
public final class FeatureException extends Exception {
  private static final long serialVersionUID = 1L;
  private final String file;
  private final int line;

  public FeatureException(String file, int line, String message) {
    super(file + ":" + line + ": " + message);
    this.file = file;
    this.line = line;
  }

  /** The file. */
  public String file() {
    return file;
  }

  /** The 1-based line. */
  public int line() {
    return line;
  }
}

// A feature file: one real-time feature declared in YAML — where its
// events come from, the Flink SQL that computes it, and where it goes.
//
//   name: store_order_count
//   source:
//     app: delivery
//     event: Order Completed          # its topic: <topic prefix><slug>, or give `topic`
//     watermark_delay: 5s
//     filter: total > 0               # optional SQL condition
//   query: |                          # the source table is `source`
//     SELECT store_id, window_end, COUNT(*) AS order_count
//     FROM TABLE(HOP(TABLE source, DESCRIPTOR(event_time), INTERVAL '20' SECOND, INTERVAL '20' MINUTE))
//     GROUP BY store_id, window_start, window_end
//   sink:
//     redis: {key: "store:{store_id}:orders_20m", type: hash, ttl: 30m}
//     # or kafka: {topic: features.store_order_count}
//   checkpoint_interval: 10s
//
// Every value keeps the line it came from, so mistakes — in the YAML, in
// the SQL, in the schema it names — point at the file's line.
package dev.tributary.flink.features;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;

/** A parsed feature file. */
public final class FeatureFile {
  /** A value and the line it is on. */
  public record Located(String value, int line) {}

  public final String path;
  public final Located name;
  public final Located app;
  public final Located event;
  public final Located topic;
  public final Duration watermarkDelay;
  public final Located filter;
  /** The query; its line is the first line of its text. */
  public final Located query;
  public final Sink sink;
  public final Duration checkpointInterval;

  /** Where the feature goes. */
  public record Sink(String kind, Located key, String redisType, Duration ttl, Located topic, int line) {}

  private FeatureFile(String path, Map<String, Node> top) throws FeatureException {
    this.path = path;
    name = required(top, "name", 1);
    Node src = top.get("source");
    if (!(src instanceof MappingNode)) {
      throw new FeatureException(path, line(src, 1), "`source` must be a mapping (app, event or topic, watermark_delay, filter)");
    }
    Map<String, Node> s = map(src, Set.of("app", "event", "topic", "watermark_delay", "filter"));
    app = optional(s, "app");
    event = optional(s, "event");
    topic = optional(s, "topic");
    if (topic == null && (app == null || event == null)) {
      throw new FeatureException(path, line(src, 1), "`source` names `app` and `event`, or a `topic`");
    }
    Located delay = optional(s, "watermark_delay");
    watermarkDelay = delay == null ? Duration.ofSeconds(5) : duration(delay);
    filter = optional(s, "filter");
    Node q = top.get("query");
    if (!(q instanceof ScalarNode qs) || qs.getValue().isBlank()) {
      throw new FeatureException(path, line(q, 1), "`query` is the Flink SQL of the feature (the source table is `source`)");
    }
    // A block scalar's text starts on the line after its indicator.
    int first = qs.getScalarStyle() == org.yaml.snakeyaml.DumperOptions.ScalarStyle.LITERAL
        || qs.getScalarStyle() == org.yaml.snakeyaml.DumperOptions.ScalarStyle.FOLDED
        ? qs.getStartMark().getLine() + 2
        : qs.getStartMark().getLine() + 1;
    query = new Located(qs.getValue(), first);
    Node k = top.get("sink");
    if (!(k instanceof MappingNode)) {
      throw new FeatureException(path, line(k, 1), "`sink` is `redis: {key, type, ttl}` or `kafka: {topic}`");
    }
    Map<String, Node> sinks = map(k, Set.of("redis", "kafka"));
    if (sinks.size() != 1) {
      throw new FeatureException(path, line(k, 1), "`sink` names one of redis and kafka");
    }
    Map.Entry<String, Node> one = sinks.entrySet().iterator().next();
    Map<String, Node> opts = map(one.getValue(), one.getKey().equals("redis") ? Set.of("key", "type", "ttl") : Set.of("topic"));
    if (one.getKey().equals("redis")) {
      Located type = optional(opts, "type");
      String t = type == null ? "hash" : type.value();
      if (!t.equals("hash") && !t.equals("string")) {
        throw new FeatureException(path, type.line(), "a redis sink's type is hash or string, not " + t);
      }
      Located ttl = optional(opts, "ttl");
      sink = new Sink("redis", required(opts, "key", line(one.getValue(), 1)), t, ttl == null ? null : duration(ttl), null, line(one.getValue(), 1));
    } else {
      sink = new Sink("kafka", null, null, null, required(opts, "topic", line(one.getValue(), 1)), line(one.getValue(), 1));
    }
    Located cp = optional(top, "checkpoint_interval");
    checkpointInterval = cp == null ? Duration.ofSeconds(10) : duration(cp);
  }

  /** Reads the file at `path`. */
  public static FeatureFile read(java.nio.file.Path path) throws FeatureException, java.io.IOException {
    return parse(path.toString(), java.nio.file.Files.readString(path));
  }

  /** Parses `text` (of file `path`). */
  public static FeatureFile parse(String path, String text) throws FeatureException {
    Node root;
    try {
      root = new Yaml(new LoaderOptions()).compose(new java.io.StringReader(text));
    } catch (MarkedYAMLException e) {
      throw new FeatureException(path, e.getProblemMark().getLine() + 1, "not YAML: " + e.getProblem());
    }
    if (!(root instanceof MappingNode)) {
      throw new FeatureException(path, 1, "a feature file is a mapping: name, source, query, sink");
    }
    return new FeatureFile(path, mapOf(path, root, Set.of("name", "description", "source", "query", "sink", "checkpoint_interval")));
  }

  private Map<String, Node> map(Node n, Set<String> allowed) throws FeatureException {
    return mapOf(path, n, allowed);
  }

  private static Map<String, Node> mapOf(String path, Node n, Set<String> allowed) throws FeatureException {
    if (!(n instanceof MappingNode m)) {
      throw new FeatureException(path, line(n, 1), "expected a mapping");
    }
    Map<String, Node> out = new LinkedHashMap<>();
    for (NodeTuple t : m.getValue()) {
      String k = ((ScalarNode) t.getKeyNode()).getValue();
      if (!allowed.contains(k)) {
        throw new FeatureException(path, line(t.getKeyNode(), 1), "unknown key `" + k + "`; expected one of " + allowed);
      }
      out.put(k, t.getValueNode());
    }
    return out;
  }

  private Located required(Map<String, Node> m, String key, int near) throws FeatureException {
    Located l = optional(m, key);
    if (l == null) {
      throw new FeatureException(path, near, "`" + key + "` is required");
    }
    return l;
  }

  private Located optional(Map<String, Node> m, String key) throws FeatureException {
    Node n = m.get(key);
    if (n == null) {
      return null;
    }
    if (!(n instanceof ScalarNode s)) {
      throw new FeatureException(path, line(n, 1), "`" + key + "` takes a single value");
    }
    return new Located(s.getValue(), line(n, 1));
  }

  private Duration duration(Located l) throws FeatureException {
    return Durations.parse(l.value()).orElseThrow(() -> new FeatureException(path, l.line(), Durations.problem(l.value())));
  }

  private static int line(Node n, int fallback) {
    return n == null ? fallback : n.getStartMark().getLine() + 1;
  }
}

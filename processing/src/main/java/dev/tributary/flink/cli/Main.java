// `tributary-flink` (processing/bin/tributary-flink): validates and runs
// feature files, and runs the sessionization job — in a local Flink
// MiniCluster inside this JVM (the default: nothing else to install), or
// submitted to an existing cluster (`--cluster host:port`, its REST
// address, with the job jar this module builds).
//
//   tributary-flink features validate features/store_order_count.yaml
//   tributary-flink features run features/store_order_count.yaml [--bounded]
//   tributary-flink sessions run --app delivery [--gap 30m] [--out-topic tributary.sessions]
//
// Where things are: --kafka (TRIBUTARY_KAFKA_BROKERS, 127.0.0.1:9092),
// --registry (TRIBUTARY_REGISTRY_URL, http://127.0.0.1:8080: the gateway's
// registry API or a Confluent Schema Registry), --redis
// (TRIBUTARY_REDIS_URL, redis://127.0.0.1:6379), --topic-prefix
// (TRIBUTARY_TOPIC_PREFIX, tributary.), --checkpoints (a directory or
// URL for checkpoints; a temporary directory by default), --idle-timeout
// (how long a partition without records may hold the watermark back).
package dev.tributary.flink.cli;

import dev.tributary.flink.features.Durations;
import dev.tributary.flink.features.FeatureException;
import dev.tributary.flink.features.FeatureFile;
import dev.tributary.flink.features.FeatureRunner;
import dev.tributary.flink.sessions.Sessionization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.api.config.ExecutionConfigOptions;

/** The command line. */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws Exception {
    try {
      System.exit(run(args));
    } catch (UsageException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
    }
  }

  /** Runs `args`; the exit code (0 fine, 1 a failed job, 2 a mistake in the input). */
  static int run(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println(USAGE);
      return 2;
    }
    Map<String, String> flags = flags(args, 2);
    String kafka = flag(flags, "kafka", "TRIBUTARY_KAFKA_BROKERS", "127.0.0.1:9092");
    String registry = flag(flags, "registry", "TRIBUTARY_REGISTRY_URL", "http://127.0.0.1:8080");
    String prefix = flag(flags, "topic-prefix", "TRIBUTARY_TOPIC_PREFIX", "tributary.");
    boolean bounded = flags.containsKey("bounded");
    // Outside the topic prefix: the pipeline's default pattern (`^tributary\\..*`)
    // offloads event topics, and an error row is not an event.
    String errorsTopic = flag(flags, "errors-topic", "TRIBUTARY_ERRORS_TOPIC",
        prefix.replaceAll("[.]$", "") + "-processing-errors");
    switch (args[0] + " " + args[1]) {
      case "features validate", "features run" -> {
        String file = flags.get("");
        if (file == null) {
          System.err.println("give the feature file");
          return 2;
        }
        FeatureRunner.Environment env = new FeatureRunner.Environment(
            kafka, registry, flag(flags, "redis", "TRIBUTARY_REDIS_URL", "redis://127.0.0.1:6379"),
            prefix, errorsTopic, bounded);
        try {
          FeatureFile f = FeatureFile.read(Path.of(file));
          StreamTableEnvironment tEnv = tables(environment(flags, f.checkpointInterval), flags);
          if (args[1].equals("validate")) {
            FeatureRunner.plan(f, env, tEnv);
            System.out.println(file + ": valid");
            return 0;
          }
          TableResult r = FeatureRunner.run(f, env, tEnv);
          System.out.println("running " + f.name.value() + (r.getJobClient().isPresent() ? " as job " + r.getJobClient().get().getJobID() : ""));
          r.await();
          return 0;
        } catch (FeatureException e) {
          System.err.println("error: " + e.getMessage());
          return 2;
        }
      }
      case "sessions run" -> {
        String app = flags.get("app");
        if (app == null) {
          System.err.println("give --app");
          return 2;
        }
        Duration gap = duration(flags, "gap", "30m");
        StreamExecutionEnvironment env = environment(flags, Duration.ofSeconds(10));
        Sessionization.build(tables(env, flags), new Sessionization.Options(
            kafka, registry, app,
            flags.getOrDefault("topic-pattern", java.util.regex.Pattern.quote(prefix) + "(?!dead_letter$|sessions$).*"),
            gap, Duration.ofSeconds(5), flags.getOrDefault("out-topic", prefix + "sessions"), errorsTopic,
            duration(flags, "heartbeat", "0s"), bounded));
        env.execute("tributary sessions " + app);
        return 0;
      }
      default -> {
        System.err.println(USAGE);
        return 2;
      }
    }
  }

  /** A local MiniCluster, or the cluster of `--cluster` with the job jar; checkpoints every `interval`. */
  static StreamExecutionEnvironment environment(Map<String, String> flags, Duration interval) throws Exception {
    Configuration conf = new Configuration();
    String dir = flags.get("checkpoints");
    if (dir == null) {
      dir = Files.createTempDirectory("tributary-checkpoints").toUri().toString();
    }
    conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, dir);
    conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, interval);
    String cluster = flags.get("cluster");
    if (cluster == null) {
      return StreamExecutionEnvironment.getExecutionEnvironment(conf);
    }
    String[] hostPort = cluster.split(":");
    String jar = flags.getOrDefault("job-jar",
        System.getProperty("tributary.home", ".") + "/target/tributary-processing-job.jar");
    return StreamExecutionEnvironment.createRemoteEnvironment(
        hostPort[0], Integer.parseInt(hostPort[1]), conf, jar);
  }

  /**
   * The table environment of `env`. A Kafka partition that receives nothing
   * (a quiet event type has some) would hold every window open forever;
   * after `--idle-timeout` (1m) without a record it stops counting for the
   * watermark until it receives one again.
   */
  static StreamTableEnvironment tables(StreamExecutionEnvironment env, Map<String, String> flags) {
    StreamTableEnvironment tEnv = StreamTableEnvironment.create(env);
    tEnv.getConfig().set(ExecutionConfigOptions.TABLE_EXEC_SOURCE_IDLE_TIMEOUT,
        duration(flags, "idle-timeout", "1m"));
    return tEnv;
  }

  /** Flag `name` as a duration; a mistake ends the command with exit code 2. */
  static Duration duration(Map<String, String> flags, String name, String fallback) {
    String text = flags.getOrDefault(name, fallback);
    return Durations.parse(text).orElseThrow(() -> new UsageException("--" + name + ": " + Durations.problem(text)));
  }

  /** A mistake in the command line. */
  static final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  private static String flag(Map<String, String> flags, String name, String env, String fallback) {
    String v = flags.get(name);
    if (v == null) {
      v = System.getenv(env);
    }
    return v == null || v.isEmpty() ? fallback : v;
  }

  /** `--name value` pairs (`--bounded` alone), the first bare word under "". */
  static Map<String, String> flags(String[] args, int from) {
    Map<String, String> out = new HashMap<>();
    for (int i = from; i < args.length; i++) {
      if (args[i].startsWith("--")) {
        String name = args[i].substring(2);
        boolean value = i + 1 < args.length && !args[i + 1].startsWith("--") && !name.equals("bounded");
        out.put(name, value ? args[++i] : "true");
      } else {
        out.putIfAbsent("", args[i]);
      }
    }
    return out;
  }

  private static final String USAGE = """
      usage: tributary-flink features validate|run FILE [--bounded] [where]
             tributary-flink sessions run --app APP [--gap 30m] [--topic-pattern RE] [--out-topic T] [--heartbeat 30s] [--bounded] [where]
      where: --kafka HOST:PORT --registry URL --redis URL --topic-prefix P --errors-topic T
             --checkpoints DIR --idle-timeout 1m --cluster HOST:PORT [--job-jar JAR]""";
}

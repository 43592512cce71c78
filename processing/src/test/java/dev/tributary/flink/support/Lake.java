// The workspace's pipeline (tributary-pipeline) offloading topics into a
// local Parquet lake, read back with pyarrow (tests/python/read_lake.py):
// what a job writes to Kafka must reach the lake like any gateway event.
package dev.tributary.flink.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

/** A pipeline and its lake. */
public final class Lake implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Path dir;
  private final Process pipeline;

  /**
   * Starts a pipeline reading `topics` from the start, typing payloads by
   * the schemas of `registry`, one segment per record (a file closes when
   * the partition's next record or heartbeat arrives).
   */
  public Lake(List<String> topics, String registry) throws Exception {
    dir = Files.createTempDirectory("tributary-flink-lake");
    Path config = dir.resolve("pipeline.toml");
    StringBuilder list = new StringBuilder();
    for (String t : topics) {
      list.append(list.length() == 0 ? "" : ", ").append('"').append(t).append('"');
    }
    Files.writeString(config, """
        [kafka]
        brokers = "%s"
        group_id = "flink-test-pipeline-%d"
        topics = [%s]
        [store]
        url = "file://%s"
        [schemas]
        registry_url = "%s"
        [offload]
        max_records = 1
        [server]
        listen = "127.0.0.1:0"
        """.formatted(Services.kafka(), System.nanoTime(), list, dir.resolve("lake"), registry));
    pipeline = new ProcessBuilder(Services.binary("tributary-pipeline").toString(), "--config", config.toString())
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("pipeline.log").toFile())
        .start();
  }

  /** The lake's summary once `done` holds of it, or the last one after `timeout`. */
  public JsonNode await(Predicate<JsonNode> done, Duration timeout) throws Exception {
    long deadline = System.currentTimeMillis() + timeout.toMillis();
    JsonNode summary = read();
    while (!done.test(summary) && System.currentTimeMillis() < deadline) {
      if (!pipeline.isAlive()) {
        throw new IllegalStateException("the pipeline exited: " + Files.readString(dir.resolve("pipeline.log")));
      }
      Thread.sleep(500);
      summary = read();
    }
    return summary;
  }

  private JsonNode read() throws Exception {
    Path lake = dir.resolve("lake");
    Files.createDirectories(lake);
    String python = System.getenv().getOrDefault("PYTHON", "python3");
    Process p = new ProcessBuilder(python, "../tests/python/read_lake.py", lake.toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("read_lake.py failed (scripts/setup installs pyarrow)");
    }
    return JSON.readTree(out);
  }

  @Override
  public void close() {
    pipeline.destroy();
  }
}

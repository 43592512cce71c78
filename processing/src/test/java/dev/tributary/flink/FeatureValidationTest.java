// `features validate`: mistakes in a feature file are reported with the
// file's line — YAML keys and durations, an event with no schema, and the
// SQL (the planner's position mapped into the file) — before anything runs.
package dev.tributary.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.flink.features.FeatureException;
import dev.tributary.flink.features.FeatureFile;
import dev.tributary.flink.features.FeatureRunner;
import dev.tributary.flink.support.Services;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.junit.jupiter.api.Test;

class FeatureValidationTest {
  private static final String GOOD = """
      name: orders
      source:
        app: delivery
        event: Order Completed
        watermark_delay: 5s
      query: |
        SELECT store_id, window_end, COUNT(*) AS order_count
        FROM TABLE(TUMBLE(TABLE source, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
        GROUP BY store_id, window_start, window_end
      sink:
        redis: {key: "orders:{store_id}", type: hash}
      """;

  private static int lineOf(String yaml) throws Exception {
    FeatureException e = assertThrows(FeatureException.class, () -> plan(yaml));
    System.err.println("validate: " + e.getMessage());
    return e.line();
  }

  private static void plan(String yaml) throws Exception {
    Services.Gateway gw = Services.gateway();
    FeatureFile f = FeatureFile.parse("feature.yaml", yaml);
    FeatureRunner.plan(f, new FeatureRunner.Environment(Services.kafka(), gw.url, Services.redis().url, gw.prefix, gw.prefix + "errors", true),
        StreamTableEnvironment.create(StreamExecutionEnvironment.getExecutionEnvironment()));
  }

  @Test
  void aGoodFileAndTheExampleAreValid() throws Exception {
    plan(GOOD);
    plan(Files.readString(Path.of("features/store_order_count.yaml")));
  }

  @Test
  void mistakesPointAtTheirLine() throws Exception {
    assertEquals(5, lineOf(GOOD.replace("watermark_delay: 5s", "watermark_delay: soon")));
    assertEquals(4, lineOf(GOOD.replace("Order Completed", "Order Uncompleted")));
    assertEquals(11, lineOf(GOOD.replace("  redis: {key", "  redsi: {key")));
    // The SQL's second line is the file's eighth.
    assertEquals(8, lineOf(GOOD.replace("FROM TABLE(TUMBLE(TABLE source", "FROM TABLE(TUMBLE(TABLE sauce")));
    assertEquals(7, lineOf(GOOD.replace("SELECT store_id,", "SELECT shop_id,")));
    assertTrue(lineOf(GOOD.replace("orders:{store_id}", "orders:{shop}")) >= 11);
  }
}

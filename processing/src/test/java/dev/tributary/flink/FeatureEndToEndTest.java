// The example feature file against the real Kafka, gateway and Redis: order
// events of three stores with event times the test chooses go through the
// gateway, and two unreadable records (a schema id the registry does not
// know, a corrupt value) straight into the topic; the feature runs on a
// local MiniCluster over all of it (bounded at the topic's end, so every
// window closes). Redis then holds, per store, the order count of the last
// window that closed, as the test computes it from what it sent; the two
// unreadable records are in the error topic with their reasons, and the job
// finished normally.
package dev.tributary.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.flink.features.FeatureFile;
import dev.tributary.flink.features.FeatureRunner;
import dev.tributary.flink.support.Kafka;
import dev.tributary.flink.support.Services;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import redis.clients.jedis.Jedis;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FeatureEndToEndTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long HOP_MS = 20_000;
  private static final long SIZE_MS = 20 * 60_000;

  /** Event times per store, as sent. */
  private final Map<String, List<Long>> sent = new TreeMap<>();
  private Services.Gateway gateway;
  private String errorsTopic;

  @BeforeAll
  void sendAndRun() throws Exception {
    gateway = Services.gateway();
    Services.Redis redis = Services.redis();
    // Two hours ago, on a whole minute: three stores, each a burst and a
    // straggler, so that windows overlap differently per store.
    long t0 = Instant.now().minus(Duration.ofHours(2)).toEpochMilli() / 60_000 * 60_000;
    long[][] offsets = {
        {1_000, 4_000, 9_000, 61_000, 62_500, 300_000},
        {15_000, 17_000, 18_999, 19_000, 20_000},
        {5_000, 1_205_000, 1_210_000, 1_219_999}};
    StringBuilder batch = new StringBuilder("[");
    int n = 0;
    for (int s = 0; s < offsets.length; s++) {
      String store = "store-" + (char) ('a' + s);
      for (long o : offsets[s]) {
        long t = t0 + o;
        sent.computeIfAbsent(store, k -> new ArrayList<>()).add(t);
        if (n++ > 0) {
          batch.append(',');
        }
        batch.append("""
            {"type":"track","event":"Order Completed","messageId":"f-%d","userId":"u-%d","timestamp":"%s",
             "properties":{"order_id":"o-%d","store_id":"%s","total":12.5,"items":[{"sku":"x","quantity":2}]}}"""
            .formatted(n, n % 4, Instant.ofEpochMilli(t), n, store));
      }
    }
    JsonNode answer = JSON.readTree(gateway.send(batch.append(']').toString()));
    assertEquals(n, answer.get("accepted").asInt(), answer.toString());
    String topic = gateway.prefix + "order_completed";
    Kafka.produce(List.of(unreadable(topic, "99999", framed(99999, "{\"store_id\":\"x\"}")), unreadable(topic, "none", "not json".getBytes(StandardCharsets.UTF_8))));

    errorsTopic = gateway.prefix + "processing_errors";
    FeatureFile f = FeatureFile.read(Path.of("features/store_order_count.yaml"));
    FeatureRunner.Environment env = new FeatureRunner.Environment(
        Services.kafka(), gateway.url, redis.url, gateway.prefix, errorsTopic, true);
    StreamTableEnvironment tEnv = StreamTableEnvironment.create(StreamExecutionEnvironment.getExecutionEnvironment());
    FeatureRunner.run(f, env, tEnv).await();
  }

  static byte[] framed(int id, String json) {
    byte[] text = json.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(5 + text.length).put((byte) 0).putInt(id).put(text).array();
  }

  /** A record with a Tributary envelope and `value`, claiming schema `schema`. */
  static ProducerRecord<byte[], byte[]> unreadable(String topic, String schema, byte[] value) {
    ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, null, null, value);
    String[][] h = {
        {"tb-event-type", "track"}, {"tb-event-name", "Order Completed"}, {"tb-message-id", "bad-" + schema},
        {"tb-app-id", "delivery"}, {"tb-schema", schema},
        {"tb-encoding", schema.equals("none") ? "json" : "confluent-json"},
        {"tb-timestamp", Instant.now().toString()}, {"tb-received-at", Instant.now().toString()}};
    for (String[] kv : h) {
      r.headers().add(new RecordHeader(kv[0], kv[1].getBytes(StandardCharsets.UTF_8)));
    }
    return r;
  }

  /** What the test expects in Redis: each store's count in its last window with an event. */
  private Map<String, Long> expected() {
    Map<String, Long> out = new TreeMap<>();
    sent.forEach((store, times) -> {
      long last = times.stream().mapToLong(Long::longValue).max().orElseThrow();
      long start = Math.floorDiv(last, HOP_MS) * HOP_MS;
      out.put(store, times.stream().filter(t -> t >= start && t < start + SIZE_MS).count());
    });
    return out;
  }

  @Test
  void redisHoldsEachStoresCountOfTheLastClosedWindow() {
    Map<String, Long> got = new TreeMap<>();
    Map<String, String> windowEnds = new HashMap<>();
    try (Jedis j = new Jedis(java.net.URI.create(Services.redis().url))) {
      for (String store : sent.keySet()) {
        Map<String, String> h = j.hgetAll("store:" + store + ":orders_20m");
        got.put(store, h.containsKey("order_count") ? Long.parseLong(h.get("order_count")) : -1);
        windowEnds.put(store, h.get("window_end"));
        assertTrue(j.ttl("store:" + store + ":orders_20m") > 0, "keys expire");
      }
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    System.err.println("feature: redis " + got + " (expected " + expected() + "), window ends " + windowEnds);
    assertEquals(expected(), got);
  }

  @Test
  void unreadableRecordsLandInTheErrorTopicWithTheirReasons() throws Exception {
    List<ConsumerRecord<byte[], byte[]>> errors = Kafka.read(errorsTopic, 2, Duration.ofSeconds(30));
    List<String> reasons = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r : errors) {
      JsonNode e = JSON.readTree(r.value());
      assertEquals("store_order_count", e.get("job").asText());
      reasons.add(e.get("error").asText().split(":")[0]);
    }
    reasons.sort(null);
    System.err.println("feature: error output " + reasons);
    assertEquals(List.of("corrupt_value", "unknown_schema"), reasons);
  }
}

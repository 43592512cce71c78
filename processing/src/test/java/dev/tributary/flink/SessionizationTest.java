// The sessionization job against the real Kafka and gateway: a script of
// users, events (tracks and screens) and gaps, with event times the test
// chooses; the job, bounded at the topics' end, writes one Session Summary
// per session, and the rows are the ones the script implies.
package dev.tributary.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.flink.sessions.Sessionization;
import dev.tributary.flink.support.Kafka;
import dev.tributary.flink.support.Lake;
import dev.tributary.flink.support.Services;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

class SessionizationTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void sessionsFollowTheScriptedUsersAndGaps() throws Exception {
    Services.Gateway gw = Services.ownGateway();
    String run = Long.toHexString(System.nanoTime());
    long t0 = Instant.now().minus(Duration.ofHours(3)).toEpochMilli() / 60_000 * 60_000;
    long m = 60_000;
    // user, minutes after t0, kind (t: track, s: screen), app version
    Object[][] script = {
        // session 1: 3 events, sent out of order: first, last and version go by event time
        {"ann", 2, "t", "1.1"}, {"ann", 0, "s", "1.0"}, {"ann", 1, "s", "1.0"},
        {"ann", 40, "t", "1.1"}, {"ann", 41, "s", "1.1"},                        // after a 38-minute gap: session 2
        {"bob", 5, "t", "2.0"},                                                   // one event
        {"cid", 10, "s", "2.0"}, {"cid", 35, "t", "2.0"}, {"cid", 64, "t", "2.0"}, // gaps of 25 and 29 minutes: one session
    };
    StringBuilder batch = new StringBuilder("[");
    for (int i = 0; i < script.length; i++) {
      String user = run + "-" + script[i][0];
      long t = t0 + ((Integer) script[i][1]) * m;
      String common = "\"messageId\":\"s-%s-%d\",\"userId\":\"%s\",\"timestamp\":\"%s\",\"context\":{\"app\":{\"version\":\"%s\"}}"
          .formatted(run, i, user, Instant.ofEpochMilli(t), script[i][3]);
      batch.append(i == 0 ? "" : ",").append(script[i][2].equals("s")
          ? "{\"type\":\"screen\",\"name\":\"Home\"," + common + "}"
          : "{\"type\":\"track\",\"event\":\"App Opened\",\"properties\":{}," + common + "}");
    }
    JsonNode answer = JSON.readTree(gw.send(batch.append(']').toString()));
    assertEquals(script.length, answer.get("accepted").asInt(), answer.toString());

    // And a record no one can read, which must go to the error output.
    Kafka.produce(List.of(FeatureEndToEndTest.unreadable(gw.prefix + "app_opened", "none", new byte[] {(byte) 0xff})));

    String out = gw.prefix + "sessions-" + run;
    String errors = gw.prefix + "errors-" + run;
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    Sessionization.build(StreamTableEnvironment.create(env), new Sessionization.Options(
        Services.kafka(), gw.url, "delivery",
        // Events without a schema are accepted to the unvalidated topic.
        java.util.regex.Pattern.quote(gw.prefix) + "(app_opened|screen|unvalidated)",
        Duration.ofMinutes(30), Duration.ofSeconds(5), out, errors, Duration.ZERO, true));
    env.execute("sessions test");

    // The rows are Tributary records typed by the shipped session schema
    // (registered for the app): the payload in the Confluent framing, the
    // envelope in the headers.
    List<String> rows = new ArrayList<>();
    int heartbeats = 0;
    // 4 sessions, and at the end each sink writer's heartbeat to each of the topic's 3 partitions.
    for (ConsumerRecord<byte[], byte[]> r : Kafka.read(out, 4 + 3, Duration.ofSeconds(30))) {
      if ("true".equals(header(r, "tb-heartbeat"))) {
        heartbeats++;
        continue;
      }
      assertEquals("Session Summary", header(r, "tb-event-name"));
      assertEquals("confluent-json", header(r, "tb-encoding"));
      assertEquals(0, r.value()[0], "Confluent magic byte");
      JsonNode p = JSON.readTree(new String(r.value(), 5, r.value().length - 5, StandardCharsets.UTF_8));
      String user = header(r, "tb-user-id").substring(run.length() + 1);
      rows.add("%s +%d..+%d min: %d events, %d screens, %s..%s, v%s".formatted(
          user,
          (Instant.parse(p.get("session_start").asText()).toEpochMilli() - t0) / m,
          (Instant.parse(p.get("session_end").asText()).toEpochMilli() - t0) / m,
          p.get("event_count").asLong(), p.get("screens").asLong(),
          p.get("first_event").asText(), p.get("last_event").asText(), p.get("app_version").asText()));
    }
    rows.sort(null);
    System.err.println("sessions: " + rows + ", heartbeats: " + heartbeats);
    assertTrue(heartbeats >= 3, "a heartbeat per partition");
    assertEquals(List.of(
        "ann +0..+2 min: 3 events, 2 screens, screen..App Opened, v1.1",
        "ann +40..+41 min: 2 events, 1 screens, App Opened..screen, v1.1",
        "bob +5..+5 min: 1 events, 0 screens, App Opened..App Opened, v2.0",
        "cid +10..+64 min: 3 events, 1 screens, screen..App Opened, v2.0"), rows);

    List<String> reasons = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r : Kafka.read(errors, 1, Duration.ofSeconds(30))) {
      reasons.add(JSON.readTree(r.value()).get("error").asText().split(":")[0]);
    }
    assertEquals(List.of("corrupt_value"), reasons);

    // The pipeline offloads the session topic like any event table: typed
    // columns by the session schema, each file closed by the heartbeat the
    // job wrote at the end of its input.
    try (Lake lake = new Lake(List.of(out), gw.url)) {
      JsonNode summary = lake.await(s -> s.get("rows").asInt() >= 4, Duration.ofSeconds(60));
      System.err.println("sessions in the lake: " + summary);
      JsonNode table = summary.get("events").get("session_summary");
      assertEquals(4, summary.get("rows").asInt(), summary.toString());
      assertEquals(4, summary.get("distinct_message_ids").asInt());
      assertEquals(0, summary.get("error_rows").asInt());
      assertEquals("int64", table.get("types").get("p_event_count").asText(), table.toString());
      assertEquals("string", table.get("types").get("p_first_event").asText());
    }
  }

  private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
    var h = r.headers().lastHeader(name);
    return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
  }
}

// The shipped sessionization job: each user's events (of one app, over
// every topic the pattern names) grouped into sessions that end after
// `gap` of event time without an event — Flink SQL's SESSION window over
// the `tributary` connector — and each session written as a `Session
// Summary` event (start, end, duration, event count, screens, first and
// last event, app version) to a topic the pipeline offloads like any other
// event table. A session's message id is derived from app, user and start,
// so a replay after a restart writes the same ids and the pipeline's dedup
// keeps one row each (at-least-once to Kafka, once in the lake).
//
// First and last event, user ids and app version are by event time, not
// arrival: a device that sends a batch late does not reorder its session.
// Events later than the watermark delay (5 s of event time behind the
// newest, per Kafka partition) miss their session and are dropped by Flink
// (counted in its numLateRecordsDropped metric).
package dev.tributary.flink.sessions;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tributary.flink.record.DecodeException;
import dev.tributary.flink.record.ErrorOutput;
import dev.tributary.flink.record.RecordSink;
import dev.tributary.flink.record.RecordWriter;
import dev.tributary.flink.record.Slug;
import dev.tributary.flink.record.Sql;
import dev.tributary.flink.record.Topics;
import dev.tributary.flink.registry.RegistryClient;
import dev.tributary.flink.table.JobSource;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HexFormat;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.bridge.java.StreamStatementSet;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;
import org.apache.kafka.clients.producer.ProducerRecord;

/** The sessionization job. */
public final class Sessionization {
  private Sessionization() {}

  /** The event name of a session row. */
  public static final String EVENT = "Session Summary";

  /** What to sessionize and where the sessions go. */
  public record Options(
      String kafka,
      String registry,
      String app,
      String topicPattern,
      Duration gap,
      Duration watermarkDelay,
      String outTopic,
      String errorsTopic,
      Duration heartbeat,
      boolean bounded) {}

  /**
   * Adds the job to `tEnv`'s environment (its output topics created first):
   * sessions to `outTopic`, unreadable records to `errorsTopic`. Run it with
   * `env.execute()`.
   */
  public static void build(StreamTableEnvironment tEnv, Options o) throws InterruptedException {
    Topics.ensure(o.kafka(), o.outTopic(), o.errorsTopic());
    JobSource source = new JobSource(o.kafka(), o.registry(), "tributary-sessions-" + o.app(), o.watermarkDelay(), o.bounded());
    tEnv.createTemporaryTable("events", source.table(Schema.newBuilder(), o.topicPattern(), true));
    // Session windows merge as events arrive, and FIRST_VALUE/LAST_VALUE cannot be
    // merged; "first" and "last" are taken by event time instead, as the MIN/MAX of
    // `<sortable UTC time>|<value>` strings, which merge and ignore arrival order.
    tEnv.getConfig().setLocalTimeZone(ZoneOffset.UTC);
    tEnv.createTemporaryView("keyed", tEnv.sqlQuery(
        "SELECT *, CONCAT(app_id, '/', COALESCE(user_key, '')) AS session_key, "
            + "DATE_FORMAT(event_time, 'yyyy-MM-dd HH:mm:ss.SSS') || '|' AS at_key, "
            + "JSON_VALUE(context, '$.app.version') AS version FROM events "
            + "WHERE error IS NULL AND app_id = '" + o.app().replace("'", "''") + "' AND event_name <> '" + EVENT + "'"));
    int cut = "yyyy-MM-dd HH:mm:ss.SSS|".length() + 1;
    DataStream<Row> sessions = tEnv.toDataStream(tEnv.sqlQuery(
        "SELECT MAX(app_id) AS app_id, "
            + lastBy("user_id", cut) + " AS user_id, " + lastBy("anonymous_id", cut) + " AS anonymous_id, "
            + "MIN(event_time) AS session_start, MAX(event_time) AS session_end, COUNT(*) AS event_count, "
            + "COUNT(*) FILTER (WHERE event_type IN ('screen', 'page')) AS screens, "
            + "SUBSTRING(MIN(at_key || event_name) FROM " + cut + ") AS first_event, "
            + lastBy("event_name", cut) + " AS last_event, " + lastBy("version", cut) + " AS app_version "
            + "FROM TABLE(SESSION(TABLE keyed PARTITION BY session_key, DESCRIPTOR(event_time), " + Sql.interval(o.gap()) + ")) "
            // The group keys are exactly the partition keys: with any other key Flink
            // plans a non-windowed aggregate that emits updates instead of closed sessions.
            + "GROUP BY session_key, window_start, window_end"));
    Integer schemaId = null;
    try {
      schemaId = new RegistryClient(o.registry()).latest(o.app() + "." + Slug.of(EVENT)).id();
    } catch (DecodeException e) {
      // No registered schema for session rows: written as `json` events.
    }
    RecordWriter writer = new RecordWriter(o.outTopic(), schemaId);
    ErrorOutput.declare(tEnv, o.kafka(), o.errorsTopic());
    StreamStatementSet errors = tEnv.createStatementSet();
    errors.add(ErrorOutput.rows(tEnv, "sessions " + o.app(), "events").insertInto(ErrorOutput.TABLE));
    errors.attachAsDataStream();
    sessions.sinkTo(new RecordSink<>(o.kafka(), o.outTopic(), new SessionRecord(writer), o.heartbeat()))
        .name("sessions to " + o.outTopic());
  }

  /** The latest non-null `column` of a session by event time. */
  private static String lastBy(String column, int cut) {
    return "SUBSTRING(MAX(CASE WHEN " + column + " IS NOT NULL THEN at_key || " + column + " END) FROM " + cut + ")";
  }

  /** A session row as a Tributary record. */
  static final class SessionRecord implements RecordSink.ToRecord<Row> {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();
    private final RecordWriter writer;

    SessionRecord(RecordWriter writer) {
      this.writer = writer;
    }

    @Override
    public ProducerRecord<byte[], byte[]> apply(Row r) {
      String app = (String) r.getField("app_id");
      String user = (String) r.getField("user_id");
      String anonymous = (String) r.getField("anonymous_id");
      long start = ((Instant) r.getField("session_start")).toEpochMilli();
      long end = ((Instant) r.getField("session_end")).toEpochMilli();
      ObjectNode p = JSON.createObjectNode();
      p.put("session_start", Instant.ofEpochMilli(start).toString());
      p.put("session_end", Instant.ofEpochMilli(end).toString());
      p.put("duration_ms", end - start);
      p.put("event_count", (Long) r.getField("event_count"));
      p.put("screens", (Long) r.getField("screens"));
      p.put("first_event", (String) r.getField("first_event"));
      p.put("last_event", (String) r.getField("last_event"));
      p.put("app_version", (String) r.getField("app_version"));
      String id = messageId(app, user != null ? user : anonymous, start);
      return writer.track(app, EVENT, id, user, anonymous, start, System.currentTimeMillis(), p);
    }
  }

  /** A session's message id: the same session, the same id. */
  static String messageId(String app, String user, long start) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256")
          .digest((app + "\0" + user + "\0" + start).getBytes(StandardCharsets.UTF_8));
      return "session-" + HexFormat.of().formatHex(h, 0, 12);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}

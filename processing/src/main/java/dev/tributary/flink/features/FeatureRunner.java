// Turns a feature file into a Flink job: the source table (the `tributary`
// connector over the event's topic, its payload columns from the event's
// latest registered schema, the envelope's event time with the file's
// watermark delay), the file's query over it, the sink, and an error
// output (the records that could not be read, with their reason, to a
// Kafka topic). Validation builds all of it and lets the planner check the
// SQL, so a mistake is reported with the feature file's line before
// anything runs.
package dev.tributary.flink.features;

import dev.tributary.flink.record.DecodeException;
import dev.tributary.flink.record.ErrorOutput;
import dev.tributary.flink.record.Slug;
import dev.tributary.flink.record.Topics;
import dev.tributary.flink.registry.Columns;
import dev.tributary.flink.registry.RegisteredSchema;
import dev.tributary.flink.registry.RegistryClient;
import dev.tributary.flink.table.JobSource;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.StatementSet;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.TableDescriptor;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.catalog.Column;

/** Feature file → job. */
public final class FeatureRunner {
  private FeatureRunner() {}

  /** Where the job's parts are. */
  public record Environment(
      String kafka, String registry, String redis, String topicPrefix, String errorsTopic, boolean bounded) {}

  private static final Pattern SQL_POSITION = Pattern.compile("line (\\d+), column (\\d+)");

  /**
   * Builds the job's statements in `tEnv` and checks them with the
   * planner; nothing runs. Returns the statements to execute.
   */
  public static StatementSet plan(FeatureFile f, Environment env, TableEnvironment tEnv) throws FeatureException {
    String topic = f.topic != null
        ? f.topic.value()
        : env.topicPrefix() + Slug.of(f.event.value());
    Schema.Builder schema = Schema.newBuilder();
    if (f.app != null && f.event != null) {
      String subject = f.app.value() + "." + Slug.of(f.event.value());
      RegisteredSchema s;
      try {
        s = new RegistryClient(env.registry()).latest(subject);
      } catch (DecodeException e) {
        throw new FeatureException(f.path, f.event.line(), "no schema for " + subject + " in " + env.registry() + ": " + e.getMessage());
      }
      for (DataTypes.Field c : Columns.of(s)) {
        schema.column(c.getName(), c.getDataType());
      }
    }
    JobSource source = new JobSource(
        env.kafka(), env.registry(), "tributary-feature-" + f.name.value(), f.watermarkDelay, env.bounded());
    tEnv.createTemporaryTable("source_all", source.table(schema, topic, false));
    String where = "error IS NULL";
    if (f.filter != null) {
      where += " AND (" + f.filter.value() + ")";
    }
    try {
      tEnv.createTemporaryView("source", tEnv.sqlQuery("SELECT * FROM source_all WHERE " + where));
    } catch (RuntimeException e) {
      throw new FeatureException(f.path, f.filter != null ? f.filter.line() : f.event.line(), "source filter: " + firstLine(e));
    }
    Table result;
    try {
      result = tEnv.sqlQuery(f.query.value());
    } catch (RuntimeException e) {
      throw new FeatureException(f.path, queryLine(f, e), "query: " + firstLine(e));
    }
    Schema.Builder out = Schema.newBuilder();
    for (Column c : result.getResolvedSchema().getColumns()) {
      out.column(c.getName(), c.getDataType());
    }
    TableDescriptor sink;
    if (f.sink.kind().equals("redis")) {
      TableDescriptor.Builder b = TableDescriptor.forConnector("tributary-redis")
          .schema(out.build())
          .option("url", env.redis())
          .option("key", f.sink.key().value())
          .option("type", f.sink.redisType());
      if (f.sink.ttl() != null) {
        b.option("ttl", f.sink.ttl().toSeconds() + " s");
      }
      sink = b.build();
    } else {
      sink = TableDescriptor.forConnector("kafka")
          .schema(out.build())
          .option("topic", f.sink.topic().value())
          .option("properties.bootstrap.servers", env.kafka())
          .format("json")
          .build();
    }
    tEnv.createTemporaryTable("sink", sink);
    ErrorOutput.declare(tEnv, env.kafka(), env.errorsTopic());
    StatementSet set = tEnv.createStatementSet();
    set.add(result.insertInto("sink"));
    set.add(ErrorOutput.rows(tEnv, f.name.value(), "source_all").insertInto(ErrorOutput.TABLE));
    try {
      set.explain();
    } catch (RuntimeException e) {
      throw new FeatureException(f.path, f.sink.line(), "sink: " + firstLine(e));
    }
    return set;
  }

  /** Plans and runs the feature (its output topics created first); the result has the job's client. */
  public static TableResult run(FeatureFile f, Environment env, TableEnvironment tEnv)
      throws FeatureException, InterruptedException {
    StatementSet set = plan(f, env, tEnv);
    if (f.sink.kind().equals("kafka")) {
      Topics.ensure(env.kafka(), env.errorsTopic(), f.sink.topic().value());
    } else {
      Topics.ensure(env.kafka(), env.errorsTopic());
    }
    return set.execute();
  }

  /** The feature file's line of an error in the query. */
  private static int queryLine(FeatureFile f, Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      Matcher m = SQL_POSITION.matcher(String.valueOf(t.getMessage()));
      if (m.find()) {
        return f.query.line() + Integer.parseInt(m.group(1)) - 1;
      }
    }
    return f.query.line();
  }

  /** The most telling line of a planner error: the deepest cause's first line. */
  private static String firstLine(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    String m = t.getMessage() != null ? t.getMessage() : e.getMessage();
    return m == null ? e.toString() : m.lines().findFirst().orElse(m);
  }
}

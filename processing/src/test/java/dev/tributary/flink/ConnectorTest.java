// Tributary records read from Flink three ways, against the real Kafka and
// gateway: the `tributary` connector in Flink SQL (a protobuf-typed event:
// payload columns by the registered schema, the envelope as metadata
// columns), `'value.format' = 'tributary'` with Flink's own Kafka
// connector (a JSON Schema event), and the DataStream deserializer, whose
// side output carries the records that cannot be read — but not a record
// that could not be read only because the registry was down.
package dev.tributary.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.flink.datastream.TributaryRecords;
import dev.tributary.flink.record.DecodeError;
import dev.tributary.flink.record.Topics;
import dev.tributary.flink.record.TributaryEvent;
import dev.tributary.flink.support.Kafka;
import dev.tributary.flink.support.Services;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.Test;

class ConnectorTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static List<Row> collect(TableResult r) throws Exception {
    List<Row> rows = new ArrayList<>();
    try (CloseableIterator<Row> it = r.collect()) {
      it.forEachRemaining(rows::add);
    }
    return rows;
  }

  @Test
  void aProtobufEventReadsAsTypedColumnsWithTheEnvelopeAsMetadata() throws Exception {
    Services.Gateway gw = Services.gateway();
    String run = Long.toHexString(System.nanoTime());
    String answer = gw.send("""
        [{"type":"track","event":"Courier Assigned","messageId":"c-%s","userId":"courier-7",
          "timestamp":"2026-01-02T03:04:05.678Z","custom_attributes":{"ab":"b"},
          "properties":{"order_id":"o-%s","courier_id":"k-1","eta_seconds":"540","pickup":{"lat":52.5,"lon":13.4}}}]"""
        .formatted(run, run));
    assertEquals(1, JSON.readTree(answer).get("accepted").asInt(), answer);
    StreamTableEnvironment t = StreamTableEnvironment.create(StreamExecutionEnvironment.getExecutionEnvironment());
    t.executeSql("""
        CREATE TABLE couriers (
          order_id STRING, courier_id STRING, eta_seconds BIGINT, pickup ROW<lat DOUBLE, lon DOUBLE>,
          event_name STRING METADATA VIRTUAL, message_id STRING METADATA VIRTUAL, user_id STRING METADATA VIRTUAL,
          event_time TIMESTAMP_LTZ(3) METADATA VIRTUAL, schema_id INT METADATA VIRTUAL,
          custom_attributes STRING METADATA VIRTUAL,
          WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND
        ) WITH ('connector' = 'tributary', 'topic' = '%scourier_assigned',
          'properties.bootstrap.servers' = '%s', 'registry.url' = '%s',
          'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset')"""
        .formatted(gw.prefix, Services.kafka(), gw.url));
    List<Row> rows = collect(t.executeSql(
        "SELECT order_id, courier_id, eta_seconds, pickup.lat, event_name, message_id, user_id, event_time, schema_id, custom_attributes "
            + "FROM couriers WHERE message_id = 'c-" + run + "'"));
    System.err.println("connector: " + rows);
    assertEquals(1, rows.size());
    Row r = rows.get(0);
    assertEquals("o-" + run, r.getField(0));
    assertEquals(540L, r.getField(2), "int64 from protobuf's JSON string");
    assertEquals(52.5, r.getField(3));
    assertEquals("Courier Assigned", r.getField(4));
    assertEquals("courier-7", r.getField(6));
    assertEquals(Instant.parse("2026-01-02T03:04:05.678Z"), r.getField(7));
    assertTrue((Integer) r.getField(8) > 0, "schema-encoded");
    assertEquals("{\"ab\":\"b\"}", r.getField(9));
  }

  @Test
  void theValueFormatReadsPayloadsThroughFlinksKafkaConnector() throws Exception {
    Services.Gateway gw = Services.gateway();
    String run = Long.toHexString(System.nanoTime());
    gw.send("""
        [{"type":"track","event":"Order Completed","messageId":"v-%s","userId":"u-v",
          "properties":{"order_id":"o-%s","store_id":"store-v","total":3.25,"items":[{"sku":"y","quantity":4}]}}]"""
        .formatted(run, run));
    StreamTableEnvironment t = StreamTableEnvironment.create(StreamExecutionEnvironment.getExecutionEnvironment());
    t.executeSql("""
        CREATE TABLE orders (
          order_id STRING, store_id STRING, total DOUBLE, items ARRAY<ROW<sku STRING, quantity BIGINT>>,
          headers MAP<STRING, BYTES> METADATA VIRTUAL
        ) WITH ('connector' = 'kafka', 'topic' = '%sorder_completed',
          'properties.bootstrap.servers' = '%s', 'scan.startup.mode' = 'earliest-offset',
          'scan.bounded.mode' = 'latest-offset',
          'value.format' = 'tributary', 'value.tributary.registry.url' = '%s')"""
        .formatted(gw.prefix, Services.kafka(), gw.url));
    List<Row> rows = collect(t.executeSql(
        "SELECT store_id, total, items[1].quantity, CAST(headers['tb-message-id'] AS STRING) FROM orders WHERE order_id = 'o-" + run + "'"));
    System.err.println("value format: " + rows);
    assertEquals(1, rows.size());
    assertEquals("store-v", rows.get(0).getField(0));
    assertEquals(3.25, rows.get(0).getField(1));
    assertEquals(4L, rows.get(0).getField(2));
    assertEquals("v-" + run, rows.get(0).getField(3));
  }

  @Test
  void theDataStreamSideOutputCarriesWhatCannotBeRead() throws Exception {
    Services.Gateway gw = Services.gateway();
    String topic = gw.prefix + "datastream_" + Long.toHexString(System.nanoTime());
    Topics.ensure(Services.kafka(), topic);
    Kafka.produce(List.of(
        FeatureEndToEndTest.unreadable(topic, "88888", FeatureEndToEndTest.framed(88888, "{}")),
        FeatureEndToEndTest.unreadable(topic, "none", "{\"type\":\"track\",\"properties\":{\"store_id\":\"s\"}}".getBytes(StandardCharsets.UTF_8)),
        FeatureEndToEndTest.unreadable(topic, "none", new byte[] {(byte) 0xff, 1, 2})));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    KafkaSource<TributaryRecords.Read> source = KafkaSource.<TributaryRecords.Read>builder()
        .setBootstrapServers(Services.kafka())
        .setTopics(topic)
        .setStartingOffsets(OffsetsInitializer.earliest())
        .setBounded(OffsetsInitializer.latest())
        .setDeserializer(TributaryRecords.deserializer(gw.url))
        .build();
    SingleOutputStreamOperator<TributaryEvent> events =
        TributaryRecords.split(env.fromSource(source, WatermarkStrategy.noWatermarks(), "records"));
    List<TributaryEvent> good = new ArrayList<>();
    List<DecodeError> bad = new ArrayList<>();
    try (CloseableIterator<TributaryEvent> a = events.executeAndCollect("datastream test")) {
      a.forEachRemaining(good::add);
    }
    StreamExecutionEnvironment env2 = StreamExecutionEnvironment.getExecutionEnvironment();
    try (CloseableIterator<DecodeError> b = TributaryRecords.split(env2.fromSource(source, WatermarkStrategy.noWatermarks(), "records"))
        .getSideOutput(TributaryRecords.ERRORS).executeAndCollect("datastream errors")) {
      b.forEachRemaining(bad::add);
    }
    System.err.println("datastream: " + good.size() + " event(s), errors " + bad);
    assertEquals(1, good.size());
    assertEquals("s", good.get(0).payloadJson().get("store_id").asText());
    assertEquals(List.of("corrupt_value", "unknown_schema"), bad.stream().map(e -> e.reason).sorted().toList());
  }

  @Test
  void aRecordIsNotSkippedWhileTheRegistryIsDown() throws Exception {
    // No registry on this port: the record may be fine, so reading it fails
    // the task (Flink restarts it from its checkpoint) instead of sending it
    // to the error output.
    var deserializer = TributaryRecords.deserializer("http://127.0.0.1:" + Services.freePort());
    var record = FeatureEndToEndTest.unreadable("t", "7", FeatureEndToEndTest.framed(7, "{}"));
    var consumed = new org.apache.kafka.clients.consumer.ConsumerRecord<>("t", 0, 0L, record.key(), record.value());
    record.headers().forEach(h -> consumed.headers().add(h));
    List<TributaryRecords.Read> out = new ArrayList<>();
    java.io.IOException e = assertThrows(java.io.IOException.class, () -> deserializer.deserialize(consumed, new org.apache.flink.util.Collector<>() {
      @Override
      public void collect(TributaryRecords.Read r) {
        out.add(r);
      }

      @Override
      public void close() {}
    }));
    System.err.println("registry down: " + e.getMessage());
    assertTrue(e.getMessage().contains("registry_unreachable"), e.getMessage());
    assertEquals(List.of(), out);
  }
}

// A Flink sink that writes a job's output as Tributary records, with the
// heartbeats the gateway writes (contract: `tb-heartbeat: true`, empty
// value, one per partition): the pipeline closes a partition's file by
// record time only when a later record arrives, so a topic it offloads
// needs them to flush a quiet partition. One writer (subtask 0) beats
// every `heartbeat` (zero: never, as the gateway's default); at the end of
// a bounded input every writer beats after its last record, so each
// partition's last record is followed by one.
//
// At least once: every record is acknowledged by Kafka (acks=all,
// idempotent producer) before a checkpoint completes; a failed send fails
// the task and Flink restarts it from the last checkpoint. Records carry
// deterministic message ids, so the pipeline's dedup drops the repeats.
package dev.tributary.flink.record;

import java.io.IOException;
import java.io.Serializable;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** Elements → Tributary records in `topic`. */
public final class RecordSink<T> implements Sink<T> {
  private static final long serialVersionUID = 1L;

  /** One element as its record. */
  @FunctionalInterface
  public interface ToRecord<T> extends Serializable {
    ProducerRecord<byte[], byte[]> apply(T element);
  }

  private final String kafka;
  private final String topic;
  private final ToRecord<T> toRecord;
  private final Duration heartbeat;

  public RecordSink(String kafka, String topic, ToRecord<T> toRecord, Duration heartbeat) {
    this.kafka = kafka;
    this.topic = topic;
    this.toRecord = toRecord;
    this.heartbeat = heartbeat;
  }

  @Override
  public SinkWriter<T> createWriter(WriterInitContext ctx) {
    boolean periodic = ctx.getTaskInfo().getIndexOfThisSubtask() == 0 && !heartbeat.isZero();
    return new Writer(periodic, ctx.getProcessingTimeService());
  }

  private final class Writer implements SinkWriter<T> {
    private final KafkaProducer<byte[], byte[]> producer;
    private final AtomicReference<Exception> failure = new AtomicReference<>();
    Writer(boolean periodic, ProcessingTimeService time) {
      Properties p = new Properties();
      p.put("bootstrap.servers", kafka);
      p.put("acks", "all");
      p.put("enable.idempotence", "true");
      p.put("linger.ms", "20");
      producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
      if (periodic) {
        schedule(time);
      }
    }

    private void schedule(ProcessingTimeService time) {
      time.registerTimer(time.getCurrentProcessingTime() + heartbeat.toMillis(), t -> {
        beat();
        schedule(time);
      });
    }

    private void send(ProducerRecord<byte[], byte[]> r) throws IOException {
      check();
      producer.send(r, (meta, e) -> {
        if (e != null) {
          failure.compareAndSet(null, e);
        }
      });
    }

    private void check() throws IOException {
      Exception e = failure.get();
      if (e != null) {
        throw new IOException("writing to " + topic + " failed", e);
      }
    }

    private void beat() throws IOException {
      long now = System.currentTimeMillis();
      List<PartitionInfo> partitions = producer.partitionsFor(topic);
      for (PartitionInfo p : partitions) {
        ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, p.partition(), now, null, new byte[0]);
        r.headers().add(new RecordHeader(Envelope.HEARTBEAT, "true".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        send(r);
      }
    }

    @Override
    public void write(T element, Context context) throws IOException {
      send(toRecord.apply(element));
    }

    @Override
    public void flush(boolean endOfInput) throws IOException {
      if (endOfInput) {
        beat();
      }
      producer.flush();
      check();
    }

    @Override
    public void close() {
      producer.close(Duration.ofSeconds(5));
    }
  }
}

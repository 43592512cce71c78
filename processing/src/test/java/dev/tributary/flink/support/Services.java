// The real services the end-to-end tests use, shared by every test of the
// run: the Kafka broker scripts/test started (TRIBUTARY_TEST_KAFKA, else
// 127.0.0.1:9092), a Tributary gateway (the workspace's binary, from
// TRIBUTARY_BIN_DIR, else $CARGO_TARGET_DIR/debug) validating the test
// schemas and the shipped session schema, and a redis-server. Each is
// started once and stopped when the JVM exits.
package dev.tributary.flink.support;

import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import java.util.zip.GZIPOutputStream;

/** The services. */
public final class Services {
  private Services() {}

  /** The write key of app `delivery` (broker mode). */
  public static final String KEY = "flink-test-key";

  private static Services.Gateway gateway;
  private static Services.Redis redis;

  /** Kafka's bootstrap servers. */
  public static String kafka() {
    String k = System.getenv("TRIBUTARY_TEST_KAFKA");
    return k == null || k.isEmpty() ? "127.0.0.1:9092" : k;
  }

  /** The workspace's binary `name` (scripts/test builds them). */
  public static Path binary(String name) {
    String dir = System.getenv("TRIBUTARY_BIN_DIR");
    if (dir == null || dir.isEmpty()) {
      dir = System.getenv().getOrDefault("CARGO_TARGET_DIR", "../target") + "/debug";
    }
    Path bin = Path.of(dir, name);
    if (!Files.isExecutable(bin)) {
      throw new IllegalStateException(bin + " is not there: build the workspace binaries (scripts/test does), or set TRIBUTARY_BIN_DIR");
    }
    return bin;
  }

  /** A port nothing listens on. */
  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** The shared gateway. */
  public static synchronized Gateway gateway() throws Exception {
    if (gateway == null) {
      gateway = new Gateway();
    }
    return gateway;
  }

  /**
   * A gateway of the caller's own, with topics no other test writes to: for a
   * test whose event times lie in the past, where another test's newer events
   * in the same partition would move the watermark past them.
   */
  public static Gateway ownGateway() throws Exception {
    return new Gateway();
  }

  /** The shared Redis. */
  public static synchronized Redis redis() throws Exception {
    if (redis == null) {
      redis = new Redis();
    }
    return redis;
  }

  /** A gateway process. */
  public static final class Gateway {
    /** Its topic prefix (unique per run). */
    public final String prefix = "t.flink." + UUID.randomUUID().toString().replace("-", "").substring(0, 12) + ".";
    /** http://127.0.0.1:port, also its registry API. */
    public final String url;
    private final HttpClient http = HttpClient.newHttpClient();

    Gateway() throws Exception {
      Path bin = binary("tributary-gateway");
      Path dir = Files.createTempDirectory("tributary-flink-gateway");
      Path schemas = dir.resolve("schemas");
      copy(Path.of("src/test/resources/schemas"), schemas);
      Files.createDirectories(schemas.resolve("delivery/session_summary"));
      Files.copy(Path.of("schemas/session_summary.json"), schemas.resolve("delivery/session_summary/1.json"));
      int port = freePort();
      url = "http://127.0.0.1:" + port;
      Path config = dir.resolve("gateway.toml");
      Files.writeString(config, """
          [server]
          listen = "127.0.0.1:%d"
          [kafka]
          brokers = "%s"
          topic_partitions = 3
          [routing]
          topic_prefix = "%s"
          [[routing.routes]]
          event = "Order Completed"
          [[routing.routes]]
          event = "Courier Assigned"
          [[routing.routes]]
          event = "App Opened"
          [schemas]
          source = "dir"
          dir = "%s"
          unregistered = "accept"
          [spool]
          dir = "%s"
          [[keys]]
          key = "%s"
          app_id = "delivery"
          ack = "broker"
          """.formatted(port, kafka(), prefix, schemas, dir.resolve("spool"), KEY));
      Process p = new ProcessBuilder(bin.toString(), "--config", config.toString())
          .redirectErrorStream(true)
          .redirectOutput(dir.resolve("gateway.log").toFile())
          .start();
      Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly));
      long deadline = System.currentTimeMillis() + 30_000;
      while (true) {
        try {
          if (http.send(HttpRequest.newBuilder(URI.create(url + "/readyz")).build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
            break;
          }
        } catch (IOException e) {
          // not up yet
        }
        if (System.currentTimeMillis() > deadline || !p.isAlive()) {
          throw new IllegalStateException("the gateway did not start: " + Files.readString(dir.resolve("gateway.log")));
        }
        Thread.sleep(100);
      }
    }

    /** POSTs a batch of events (JSON array text), gzipped; the answer's body. */
    public String send(String events) throws Exception {
      byte[] body = ("{\"batch\":" + events + "}").getBytes(StandardCharsets.UTF_8);
      java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
      try (GZIPOutputStream z = new GZIPOutputStream(gz)) {
        z.write(body);
      }
      HttpRequest req = HttpRequest.newBuilder(URI.create(url + "/v1/batch"))
          .header("Authorization", "Bearer " + KEY)
          .header("Content-Type", "application/json")
          .header("Content-Encoding", "gzip")
          .POST(HttpRequest.BodyPublishers.ofByteArray(gz.toByteArray()))
          .build();
      HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException("gateway answered " + r.statusCode() + ": " + r.body());
      }
      return r.body();
    }

    private static void copy(Path from, Path to) throws IOException {
      try (var files = Files.walk(from)) {
        for (Path f : (Iterable<Path>) files::iterator) {
          Path t = to.resolve(from.relativize(f).toString());
          if (Files.isDirectory(f)) {
            Files.createDirectories(t);
          } else {
            Files.copy(f, t);
          }
        }
      }
    }
  }

  /** A redis-server on a free port, nothing persisted. */
  public static final class Redis {
    public final int port;
    /** redis://127.0.0.1:port. */
    public final String url;

    Redis() throws Exception {
      port = freePort();
      url = "redis://127.0.0.1:" + port;
      Process p = new ProcessBuilder("redis-server", "--port", String.valueOf(port), "--bind", "127.0.0.1",
          "--save", "", "--appendonly", "no")
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .start();
      Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly));
      long deadline = System.currentTimeMillis() + 10_000;
      while (!ping()) {
        if (System.currentTimeMillis() > deadline) {
          throw new IllegalStateException("redis-server did not start (scripts/setup installs it)");
        }
        Thread.sleep(50);
      }
    }

    private boolean ping() {
      try (Socket s = new Socket("127.0.0.1", port)) {
        OutputStream o = s.getOutputStream();
        o.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
        return s.getInputStream().read() == '+';
      } catch (IOException e) {
        return false;
      }
    }
  }

  /** Waits `d`. */
  public static void sleep(Duration d) throws InterruptedException {
    Thread.sleep(d.toMillis());
  }
}

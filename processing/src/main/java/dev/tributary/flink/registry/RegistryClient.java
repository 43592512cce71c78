// A small Confluent Schema Registry client — the read API the gateway
// serves too (`GET /schemas/ids/{id}`; protobuf schemas as their
// descriptor, `?format=serialized`). Confluent's own Java client is not on
// Maven Central. Schemas are immutable by id, so every one fetched is kept;
// an id the registry does not know is asked again only after a while, so a
// stream of records with a bad id does not flood it.
package dev.tributary.flink.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FileDescriptor;
import dev.tributary.flink.record.DecodeException;
import dev.tributary.flink.record.DecodeException.Reason;
import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Fetches and keeps schemas by id. */
public final class RegistryClient implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final ObjectMapper JSON = new ObjectMapper();
  /** How long an unknown id stays unknown before the registry is asked again. */
  private static final long MISSING_RECHECK_MS = 10_000;

  private final String url;
  private transient Map<Integer, RegisteredSchema> known;
  private transient Map<Integer, Long> missing;
  private transient HttpClient http;

  public RegistryClient(String url) {
    this.url = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }

  public String url() {
    return url;
  }

  /** The schema of `id`; an unknown id or an unreachable registry is a {@link DecodeException}. */
  public RegisteredSchema byId(int id) throws DecodeException {
    if (known == null) {
      byIdInit();
    }
    RegisteredSchema s = known.get(id);
    if (s != null) {
      return s;
    }
    Long since = missing.get(id);
    if (since != null && System.currentTimeMillis() - since < MISSING_RECHECK_MS) {
      throw new DecodeException(Reason.UNKNOWN_SCHEMA, "schema id " + id + " is not in the registry " + url);
    }
    JsonNode body = get("/schemas/ids/" + id + "?format=serialized", id);
    s = parse(id, body);
    known.put(id, s);
    missing.remove(id);
    return s;
  }

  /** The latest version of `subject` (`<app>.<event slug>`); an unknown subject is an {@link DecodeException}. */
  public RegisteredSchema latest(String subject) throws DecodeException {
    if (http == null) {
      byIdInit();
    }
    JsonNode v = get("/subjects/" + java.net.URLEncoder.encode(subject, java.nio.charset.StandardCharsets.UTF_8) + "/versions/latest", -1);
    return byId(v.path("id").asInt());
  }

  private void byIdInit() {
    known = new ConcurrentHashMap<>();
    missing = new ConcurrentHashMap<>();
    http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  }

  /** Tries an unreachable registry (no answer, or a 5xx) this often, a second apart, before giving up. */
  private static final int ATTEMPTS = 3;

  private JsonNode get(String path, int id) throws DecodeException {
    HttpRequest req = HttpRequest.newBuilder(URI.create(url + path))
        .timeout(Duration.ofSeconds(10))
        .header("Accept", "application/vnd.schemaregistry.v1+json")
        .build();
    HttpResponse<String> resp = null;
    for (int attempt = 1; ; attempt++) {
      String problem;
      try {
        resp = http.send(req, HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() < 500) {
          break;
        }
        problem = "HTTP " + resp.statusCode();
      } catch (IOException e) {
        problem = e.toString();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new DecodeException(Reason.REGISTRY_UNREACHABLE, "interrupted asking " + url);
      }
      if (attempt == ATTEMPTS) {
        throw new DecodeException(Reason.REGISTRY_UNREACHABLE, "registry " + url + ": " + problem);
      }
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new DecodeException(Reason.REGISTRY_UNREACHABLE, "interrupted asking " + url);
      }
    }
    if (resp.statusCode() == 404) {
      if (id >= 0) {
        missing.put(id, System.currentTimeMillis());
        throw new DecodeException(Reason.UNKNOWN_SCHEMA, "schema id " + id + " is not in the registry " + url);
      }
      throw new DecodeException(Reason.UNKNOWN_SCHEMA, url + path + " is not in the registry");
    }
    if (resp.statusCode() != 200) {
      throw new DecodeException(Reason.REGISTRY_UNREACHABLE, "registry " + url + ": HTTP " + resp.statusCode());
    }
    try {
      return JSON.readTree(resp.body());
    } catch (IOException e) {
      throw new DecodeException(Reason.REGISTRY_UNREACHABLE, "registry " + url + ": not JSON: " + e.getMessage());
    }
  }

  /** A registry answer as a schema. */
  static RegisteredSchema parse(int id, JsonNode body) throws DecodeException {
    String type = body.path("schemaType").asText("AVRO");
    String text = body.path("schema").asText();
    try {
      return switch (type) {
        case "JSON" -> new RegisteredSchema(id, RegisteredSchema.Type.JSON, JSON.readTree(text), null);
        case "PROTOBUF" -> new RegisteredSchema(id, RegisteredSchema.Type.PROTOBUF, null, descriptor(text));
        default -> throw new DecodeException(Reason.UNKNOWN_SCHEMA, "schema id " + id + " is " + type + "; Tributary writes JSON and PROTOBUF");
      };
    } catch (IOException | DescriptorValidationException e) {
      throw new DecodeException(Reason.UNKNOWN_SCHEMA, "schema id " + id + " does not parse: " + e.getMessage());
    }
  }

  /** The first message of a serialized `FileDescriptorProto` (base64); well-known imports resolved. */
  static com.google.protobuf.Descriptors.Descriptor descriptor(String base64)
      throws IOException, DescriptorValidationException {
    FileDescriptorProto proto = FileDescriptorProto.parseFrom(Base64.getDecoder().decode(base64));
    List<FileDescriptor> deps = new ArrayList<>();
    for (String dep : proto.getDependencyList()) {
      FileDescriptor known = WellKnown.file(dep);
      if (known != null) {
        deps.add(known);
      }
    }
    FileDescriptor file = FileDescriptor.buildFrom(proto, deps.toArray(new FileDescriptor[0]));
    return file.getMessageTypes().get(0);
  }
}

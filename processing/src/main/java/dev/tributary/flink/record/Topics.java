// Creates the topics a job writes to when they are missing (the gateway
// does the same for its topics at start-up): a job whose output topic is
// not there would otherwise fail on its first record.
package dev.tributary.flink.record;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

/** Output topics. */
public final class Topics {
  private Topics() {}

  /** Makes sure `topics` exist on `kafka` (3 partitions, the broker's replication). */
  public static void ensure(String kafka, String... topics) throws InterruptedException {
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka))) {
      Set<String> present = admin.listTopics().names().get();
      List<NewTopic> missing = new ArrayList<>();
      for (String t : topics) {
        if (!present.contains(t)) {
          missing.add(new NewTopic(t, Optional.of(3), Optional.empty()));
        }
      }
      if (!missing.isEmpty()) {
        admin.createTopics(missing).all().get();
      }
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof TopicExistsException)) {
        throw new IllegalStateException("cannot create topics " + List.of(topics) + " on " + kafka + ": " + e.getCause(), e);
      }
    }
  }
}

// JVM tests of the Kotlin SDK: the generated bindings and the idiomatic
// layer, loaded against the host build of the Rust library through JNA.
// The end-to-end tests talk to a real gateway and read the real Kafka back.
//
// Run by sdk-mobile/scripts/test-kotlin, which starts the gateway and passes
// its address, the Kafka bootstrap and the topics as system properties.
// Modes: `suite` (default) runs every test in-process; `enqueue-then-die`
// and `deliver-after-restart` are the two halves of the restart test, run
// as two separate JVM processes.
package dev.tributary

import dev.tributary.ffi.Consent
import dev.tributary.ffi.TributaryConfig
import dev.tributary.ffi.TributaryException
import org.apache.kafka.clients.consumer.KafkaConsumer
import org.apache.kafka.common.TopicPartition
import org.apache.kafka.common.serialization.ByteArrayDeserializer
import java.io.File
import java.nio.file.Files
import java.time.Duration
import java.util.Properties
import kotlin.system.exitProcess
import dev.tributary.ffi.Tributary as NativeTributary

private fun prop(name: String): String =
    System.getProperty("tributary.$name") ?: error("system property tributary.$name is required")

private fun check(cond: Boolean, msg: () -> String) {
    if (!cond) throw AssertionError(msg())
}

private fun tempDir(): File = Files.createTempDirectory("tributary-kt").toFile()

/** Reads every record of the test topics; returns counts per `properties.n` of "Order Completed". */
private fun arrivals(expectedRecords: Int): Map<Int, Int> {
    val props = Properties().apply {
        put("bootstrap.servers", prop("bootstrap"))
        put("key.deserializer", ByteArrayDeserializer::class.java.name)
        put("value.deserializer", ByteArrayDeserializer::class.java.name)
        put("enable.auto.commit", "false")
    }
    val n = Regex("\"properties\":\\{\"n\":(\\d+)\\}")
    val counts = HashMap<Int, Int>()
    var records = 0
    KafkaConsumer<ByteArray, ByteArray>(props).use { c ->
        val parts = prop("topics").split(',').flatMap { t -> c.partitionsFor(t).map { TopicPartition(t, it.partition()) } }
        c.assign(parts)
        c.seekToBeginning(parts)
        val deadline = System.currentTimeMillis() + 60_000
        var settleUntil = Long.MAX_VALUE
        while (System.currentTimeMillis() < minOf(deadline, settleUntil)) {
            for (r in c.poll(Duration.ofMillis(200))) {
                records++
                val name = r.headers().lastHeader("tb-event-name")?.value()?.toString(Charsets.UTF_8)
                if (name == "Order Completed") {
                    val m = n.find(String(r.value(), Charsets.UTF_8)) ?: continue
                    val k = m.groupValues[1].toInt()
                    counts[k] = (counts[k] ?: 0) + 1
                }
            }
            if (records >= expectedRecords && settleUntil == Long.MAX_VALUE) settleUntil = System.currentTimeMillis() + 2_000
        }
    }
    return counts
}

private fun assertEachOnce(counts: Map<Int, Int>, range: IntRange) {
    val missing = range.filter { it !in counts }
    val dups = counts.filter { it.value > 1 }
    check(missing.isEmpty()) { "never arrived: $missing" }
    check(dups.isEmpty()) { "arrived more than once: $dups" }
}

/** An app-supplied transport: counts what it sends, then uses the default one. */
private class CountingSender : dev.tributary.ffi.HttpSender {
    val keys = java.util.concurrent.CopyOnWriteArrayList<String>()
    private val inner = HttpUrlConnectionSender()
    override fun send(request: dev.tributary.ffi.HttpRequest): dev.tributary.ffi.HttpOutcome {
        keys.add(request.headers["Idempotency-Key"] ?: "")
        check(request.headers["Content-Encoding"] == "gzip") { "bodies are gzipped by the core" }
        return inner.send(request)
    }
}

private val tests: List<Pair<String, () -> Unit>> = listOf(
    "json encodes nested values and escapes" to {
        val s = Json.encode(mapOf("a" to "q\"\n", "n" to 12.5, "l" to listOf(1, true, null), "m" to mapOf("x" to 1L)))
        check(s == """{"a":"q\"\n","n":12.5,"l":[1,true,null],"m":{"x":1}}""") { s }
        val nan = runCatching { Json.encode(mapOf("x" to Double.NaN)) }
        check(nan.exceptionOrNull() is IllegalArgumentException) { "NaN must be refused: $nan" }
    },
    "configure refuses an empty write key with InvalidConfig" to {
        val r = runCatching { Tributary.configure("", "http://127.0.0.1:9", tempDir()) }
        val e = r.exceptionOrNull()
        check(e is TributaryException.InvalidConfig) { "expected InvalidConfig, got $e" }
        check((e as TributaryException.InvalidConfig).reason.contains("write_key")) { e.reason }
    },
    "bad arguments are typed errors" to {
        val dir = tempDir()
        val config = TributaryConfig(writeKey = "wk", endpoint = "http://127.0.0.1:9", storageDir = dir.absolutePath)
        NativeTributary(config, HttpUrlConnectionSender()).use { t ->
            val props = runCatching { t.track("e", "[1,2]") }.exceptionOrNull()
            check(props is TributaryException.InvalidProperties) { "got $props" }
            val name = runCatching { t.track("", "{}") }.exceptionOrNull()
            check(name is TributaryException.InvalidArgument) { "got $name" }
            t.shutdown(100uL)
            val closed = runCatching { t.track("e", null) }.exceptionOrNull()
            check(closed is TributaryException.Closed) { "got $closed" }
        }
    },
    "opting out purges the queue" to {
        Tributary.configure("wk", "http://127.0.0.1:9", tempDir()) { initialConsent = Consent.PENDING }
        repeat(10) { Tributary.track("Buffered", mapOf("i" to it)) }
        Tributary.flush(200)
        check(Tributary.stats().queued >= 10uL) { "pending consent keeps events: ${Tributary.stats()}" }
        Tributary.setConsent(Consent.DENIED)
        Tributary.flush(200)
        val s = Tributary.stats()
        check(s.queued == 0uL && (s.dropped["opt_out"] ?: 0uL) >= 10uL) { "$s" }
        Tributary.shutdown()
    },
    "an app-supplied transport carries the uploads" to {
        val sender = CountingSender()
        Tributary.configure(prop("writeKey"), prop("endpoint"), tempDir()) { transport = sender }
        for (i in 500 until 510) Tributary.track("Order Completed", mapOf("n" to i))
        val report = Tributary.flush(30_000)
        Tributary.shutdown()
        check(report.remaining == 0uL) { "$report" }
        check(sender.keys.isNotEmpty() && sender.keys.all { it.isNotEmpty() }) { "${sender.keys}" }
    },
    "every event reaches Kafka exactly once" to {
        Tributary.configure(prop("writeKey"), prop("endpoint"), tempDir()) { flushAtEvents = 50 }
        Tributary.identify("kotlin-user", mapOf("plan" to "pro"))
        for (i in 0 until 200) Tributary.track("Order Completed", mapOf("n" to i))
        val report = Tributary.flush(30_000)
        check(report.remaining == 0uL && report.dropped == 0uL) { "$report" }
        val stats = Tributary.stats()
        check(stats.delivered == 202uL) { "200 tracks + identify + session start: $stats" }
        Tributary.shutdown()
        assertEachOnce(arrivals(202), 0 until 200)
    },
)

private fun suite(): Int {
    var passed = 0
    var failed = 0
    for ((name, body) in tests) {
        try {
            body()
            passed++
            println("test $name ... ok")
        } catch (t: Throwable) {
            failed++
            println("test $name ... FAILED: $t")
        }
    }
    println("kotlin: $passed passed, $failed failed")
    return if (failed == 0) 0 else 1
}

/** First process: queue events while the network is down, then die without flushing. */
private fun enqueueThenDie(): Int {
    val dir = File(prop("dir"))
    Tributary.configure(prop("writeKey"), "http://127.0.0.1:9", dir) { flushAtEvents = 1_000 }
    Tributary.setOnline(false)
    for (i in 1000 until 1060) Tributary.track("Order Completed", mapOf("n" to i))
    val deadline = System.currentTimeMillis() + 10_000
    while (Tributary.stats().queued < 61uL && System.currentTimeMillis() < deadline) Thread.sleep(10)
    println("queued before the kill: ${Tributary.stats().queued}")
    Runtime.getRuntime().halt(0) // like a kill: no shutdown hooks, no flush
    return 0
}

/** Second process: the app starts again online; the queue on disk is delivered. */
private fun deliverAfterRestart(): Int {
    Tributary.configure(prop("writeKey"), prop("endpoint"), File(prop("dir")))
    val report = Tributary.flush(30_000)
    val stats = Tributary.stats()
    Tributary.shutdown()
    // The queue found on disk: 60 tracks and a session start, plus this
    // start's session end and start.
    var ok = report.remaining == 0uL && stats.delivered == 63uL
    try {
        // 60 tracks, two session starts, one session end.
        assertEachOnce(arrivals(63), 1000 until 1060)
    } catch (e: AssertionError) {
        println("restart: $e")
        ok = false
    }
    println("test events queued on disk survive a process kill and restart ... ${if (ok) "ok" else "FAILED: $report $stats"}")
    println("kotlin restart: ${if (ok) 1 else 0} passed, ${if (ok) 0 else 1} failed")
    return if (ok) 0 else 1
}

fun main() {
    val code = when (System.getProperty("tributary.mode") ?: "suite") {
        "suite" -> suite()
        "enqueue-then-die" -> enqueueThenDie()
        "deliver-after-restart" -> deliverAfterRestart()
        else -> error("unknown mode")
    }
    exitProcess(code)
}

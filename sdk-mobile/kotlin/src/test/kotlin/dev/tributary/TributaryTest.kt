// JVM tests of the Kotlin SDK: the generated bindings and the idiomatic
// layer, loaded against the host build of the Rust library through JNA.
// The end-to-end tests talk to a real gateway and read the real Kafka back.
//
// Run by sdk-mobile/scripts/test-kotlin, which starts the gateway and passes
// its address, the Kafka bootstrap and the topics as system properties (and
// a second gateway validating app `shop` against schemas/, for the typed
// tracking code generated into examples/tracking).
// Modes: `suite` (default) runs every test in-process; `enqueue-then-die`
// and `deliver-after-restart` are the two halves of the restart test, run
// as two separate JVM processes; `track-then-crash` and `deliver-crash` the
// two halves of the crash test (the second also checks the pipeline's
// crash-free figures against the ones it computes from Kafka).
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
import tributary.tracking.shop.CheckoutStartedLineItem
import tributary.tracking.shop.OrderCompletedCurrency
import tributary.tracking.shop.OrderCompletedItem
import tributary.tracking.shop.ShopTracking
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

private fun assertEachOnce(counts: Map<Int, Int>, range: Iterable<Int>) {
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
        if (request.method == "POST") {
            keys.add(request.headers["Idempotency-Key"] ?: "")
            check(request.headers["Content-Encoding"] == "gzip") { "bodies are gzipped by the core" }
        }
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
    "a plugin rewrites and drops events, and the drops are counted" to {
        Tributary.configure("wk", "http://127.0.0.1:9", tempDir()) { remoteSettings = false; autoLifecycle = false }
        Tributary.addPlugin { e -> if (e.contains("\"Secret\"")) null else e }
        Tributary.track("Secret")
        Tributary.track("Public")
        Tributary.flush(200)
        val s = Tributary.stats()
        Tributary.shutdown()
        check(s.dropped["dropped_by_plugin"] == 1uL && s.enqueued == 2uL) { "one dropped; Public and the session start queued: $s" }
    },
    "the gateway's kill switch and sampling rate, flipped while sending, are obeyed" to {
        val file = File(prop("settingsFile"))
        fun served(): String? = runCatching {
            val c = java.net.URL("${prop("endpoint")}/v1/settings?writeKey=${prop("settingsKey")}").openConnection() as java.net.HttpURLConnection
            Regex("\"version\":\"([0-9a-f]+)\"").find(c.inputStream.use { String(it.readBytes()) })?.groupValues?.get(1)
        }.getOrNull()
        // Writes the file, waits for the gateway to serve it, then for the
        // device to learn it from an upload's answer.
        fun flip(toml: String) {
            val before = served()
            file.writeText(toml)
            var v = served()
            val until = System.currentTimeMillis() + 15_000
            while (v == before && System.currentTimeMillis() < until) { Thread.sleep(200); v = served() }
            check(v != before) { "the gateway did not reload its settings" }
            while (Tributary.stats().settingsVersion != v && System.currentTimeMillis() < until + 15_000) {
                Tributary.track("Kept")
                Tributary.flush(5_000)
                Thread.sleep(100)
            }
            check(Tributary.stats().settingsVersion == v) { "the device never applied $v: ${Tributary.stats()}" }
        }
        fun dropped(r: String) = Tributary.stats().dropped[r] ?: 0uL
        // A web page of the same app sends beside this device (scripts/
        // test-kotlin starts it): each flip waits until the page has done
        // the step before under the settings then in force.
        val web = System.getProperty("tributary.webSync")?.let(::File)
        fun webDone(step: Int) {
            if (web == null) return
            val until = System.currentTimeMillis() + 120_000
            while (!File(web, "step-$step").exists()) {
                check(!File(web, "failed").exists()) { "the web page failed: ${File(web, "failed").readText()}" }
                check(System.currentTimeMillis() < until) { "the web page never finished step $step" }
                Thread.sleep(100)
            }
        }
        Tributary.configure(prop("settingsKey"), prop("endpoint"), tempDir()) { flushAtEvents = 1_000 }
        repeat(5) { Tributary.track("Noisy") }
        check(Tributary.flush(20_000).remaining == 0uL) { "not delivered" }
        webDone(0)
        flip("[apps.kotlin-settings]\ndisabled_events = [\"Noisy\"]\n")
        repeat(10) { Tributary.track("Noisy") }
        Tributary.flush(5_000)
        check(dropped("disabled_by_server") == 10uL) { "${Tributary.stats()}" }
        webDone(1)
        flip("")
        val before = Tributary.stats().enqueued
        repeat(10) { Tributary.track("Noisy") }
        Tributary.flush(5_000)
        check(Tributary.stats().enqueued - before == 10uL && dropped("disabled_by_server") == 10uL) { "${Tributary.stats()}" }
        webDone(2)
        // About 30 % kept; with 2,000 events the share's deviation is about 1 %, 5 % allowed.
        flip("[apps.kotlin-settings]\nsample_rates = { \"Often\" = 0.3 }\n")
        val start = Tributary.stats().enqueued
        repeat(2_000) { Tributary.track("Often") }
        Tributary.flush(20_000)
        val kept = (Tributary.stats().enqueued - start).toDouble() / 2_000
        Tributary.shutdown()
        println("kotlin sampling at 0.3: kept $kept of 2000")
        check(kotlin.math.abs(kept - 0.3) < 0.05) { "kept share $kept" }
        webDone(3)
    },
    "the generated tracking code sends one event per schema, each accepted under validation" to {
        Tributary.configure(prop("shopKey"), prop("shopEndpoint"), tempDir()) { autoLifecycle = false; remoteSettings = false }
        ShopTracking.orderCompleted(
            orderId = "o-1", total = 42.5, currency = OrderCompletedCurrency.EUR,
            items = listOf(OrderCompletedItem(sku = "A-1", quantity = 2), OrderCompletedItem(sku = "B-2")),
        )
        ShopTracking.checkoutStarted(
            cartId = "c-1", value = 42.5, currency = "EUR", itemCount = 3,
            items = listOf(CheckoutStartedLineItem(sku = "A-1", quantity = 2, price = 21.25)),
        )
        // The same event by hand, as a typo would have it: validation is on.
        Tributary.track("Order Completed", mapOf("orderId" to "o-2", "total" to "42.5"))
        val report = Tributary.flush(30_000)
        val s = Tributary.stats()
        Tributary.shutdown()
        val rejected = s.dropped["rejected_by_server"] ?: 0uL
        check(report.remaining == 0uL && rejected == 1uL && s.dropped.values.sum() == 1uL) {
            "the typed events accepted, only the hand-written one rejected: $report $s"
        }
        // In Kafka, each on its event's topic and schema-encoded: the
        // Confluent framing (magic byte 0, then the schema id of tb-schema).
        val props = Properties().apply {
            put("bootstrap.servers", prop("bootstrap"))
            put("key.deserializer", ByteArrayDeserializer::class.java.name)
            put("value.deserializer", ByteArrayDeserializer::class.java.name)
            put("enable.auto.commit", "false")
        }
        val seen = HashMap<String, String>()
        KafkaConsumer<ByteArray, ByteArray>(props).use { c ->
            val parts = prop("shopTopics").split(',').flatMap { t -> c.partitionsFor(t).map { TopicPartition(t, it.partition()) } }
            c.assign(parts)
            c.seekToBeginning(parts)
            val deadline = System.currentTimeMillis() + 30_000
            while (seen.size < 2 && System.currentTimeMillis() < deadline) {
                for (r in c.poll(Duration.ofMillis(200))) {
                    val name = r.headers().lastHeader("tb-event-name")?.value()?.toString(Charsets.UTF_8) ?: continue
                    val schema = r.headers().lastHeader("tb-schema")?.value()?.toString(Charsets.UTF_8) ?: "none"
                    val v = r.value()
                    check(v.size > 5 && v[0] == 0.toByte()) { "$name is not schema-encoded" }
                    val id = java.nio.ByteBuffer.wrap(v, 1, 4).int
                    check(schema == id.toString()) { "$name: tb-schema $schema, framing id $id" }
                    seen[name] = r.headers().lastHeader("tb-encoding")?.value()?.toString(Charsets.UTF_8) ?: "?"
                }
            }
        }
        println("typed tracking code: ${seen.toSortedMap()}")
        check(seen == mapOf("Order Completed" to "confluent-json", "Checkout Started" to "confluent-protobuf")) { "$seen" }
    },
    "debug mode logs each decision to the app's logger" to {
        val lines = java.util.concurrent.CopyOnWriteArrayList<String>()
        Tributary.configure(prop("writeKey"), prop("endpoint"), tempDir()) {
            debug = true; debugLogger = { lines.add(it) }; maxQueueEvents = 4; flushAtEvents = 1_000; remoteSettings = false
        }
        repeat(6) { Tributary.track("Debugged", mapOf("i" to it)) }
        check(Tributary.flush(20_000).remaining == 0uL) { "not delivered" }
        Tributary.shutdown()
        val log = lines.joinToString("\n")
        for (want in listOf("queued \"Debugged\"", "dropped 1 queued event(s): queue_full", "sending batch ", "answer to batch ", "HTTP 200", "delivered, 0 to retry")) {
            check(log.contains(want)) { "missing <$want> in the debug log:\n$log" }
        }
        println("kotlin debug log: ${lines.size} lines, e.g. ${lines.firstOrNull { it.startsWith("sending") }}")
    },
    "every event reaches Kafka exactly once" to {
        Tributary.configure(prop("writeKey"), prop("endpoint"), tempDir()) { flushAtEvents = 50 }
        Tributary.identify("kotlin-user", mapOf("plan" to "pro"))
        for (i in 0 until 200) Tributary.track("Order Completed", mapOf("n" to i))
        val report = Tributary.flush(30_000)
        check(report.remaining == 0uL && report.dropped == 0uL) { "$report" }
        val stats = Tributary.stats()
        check(stats.delivered == 204uL) { "200 tracks + identify + session start + installed + opened: $stats" }
        Tributary.shutdown()
        assertEachOnce(arrivals(204), 0 until 200)
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
    while (Tributary.stats().queued < 63uL && System.currentTimeMillis() < deadline) Thread.sleep(10)
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
    // The queue found on disk: 60 tracks, a session start, installed and
    // opened, plus this start's session end, start and opened.
    var ok = report.remaining == 0uL && stats.delivered == 66uL
    try {
        assertEachOnce(arrivals(66), 1000 until 1060)
    } catch (e: AssertionError) {
        println("restart: $e")
        ok = false
    }
    println("test events queued on disk survive a process kill and restart ... ${if (ok) "ok" else "FAILED: $report $stats"}")
    println("kotlin restart: ${if (ok) 1 else 0} passed, ${if (ok) 0 else 1} failed")
    return if (ok) 0 else 1
}

/** First crash process: track offline, then die of an uncaught exception. */
private fun trackThenCrash(): Int {
    // What Android's own default handler does after reporting: kill the
    // process (no shutdown hooks, nothing flushed). Ours must chain to it.
    Thread.setDefaultUncaughtExceptionHandler { _, _ -> Runtime.getRuntime().halt(3) }
    Tributary.configure(prop("crashKey"), "http://127.0.0.1:9", File(prop("dir"))) {
        flushAtEvents = 1_000
        appVersion = "3.1.0"
    }
    Tributary.setOnline(false)
    for (i in 3000 until 3020) Tributary.track("Order Completed", mapOf("n" to i))
    // 20 tracks, Session Started, Application Installed and Opened.
    val deadline = System.currentTimeMillis() + 10_000
    while (Tributary.stats().queued < 23uL && System.currentTimeMillis() < deadline) Thread.sleep(10)
    println("queued before the crash: ${Tributary.stats().queued}")
    throw IllegalStateException("cart state lost")
}

private val sessionRe = Regex("\"sessionId\":(\\d+)")

/** Second crash process (and a second, healthy device): deliver, then check Kafka and the pipeline. */
private fun deliverCrash(): Int {
    var ok = true
    fun expect(cond: Boolean, what: String) { if (!cond) { println("crash: $what"); ok = false } }
    Tributary.configure(prop("crashKey"), prop("endpoint"), File(prop("dir"))) { appVersion = "3.1.0" }
    val report = Tributary.flush(30_000)
    Tributary.shutdown()
    expect(report.remaining == 0uL, "not everything delivered: $report")
    expect(File(prop("dir")).listFiles()!!.none { it.name.startsWith("crash-") }, "crash file left behind")
    Tributary.configure(prop("crashKey"), prop("endpoint"), tempDir()) { appVersion = "3.1.0" }
    for (i in 3100 until 3105) Tributary.track("Order Completed", mapOf("n" to i))
    expect(Tributary.flush(30_000).remaining == 0uL, "second device did not deliver")
    Tributary.shutdown()

    // What reached Kafka for this app: each order once, one crash, and the
    // sessions and users the pipeline must count.
    val props = Properties().apply {
        put("bootstrap.servers", prop("bootstrap"))
        put("key.deserializer", ByteArrayDeserializer::class.java.name)
        put("value.deserializer", ByteArrayDeserializer::class.java.name)
    }
    val orders = HashMap<Int, Int>()
    val sessions = HashSet<Pair<String, String>>()
    val crashedSessions = HashSet<Pair<String, String>>()
    val users = HashSet<String>()
    val crashedUsers = HashSet<String>()
    var crashes = 0
    val n = Regex("\"n\":(\\d+)")
    KafkaConsumer<ByteArray, ByteArray>(props).use { c ->
        val parts = prop("topics").split(',').flatMap { t -> c.partitionsFor(t).map { TopicPartition(t, it.partition()) } }
        c.assign(parts)
        c.seekToBeginning(parts)
        val end = c.endOffsets(parts)
        val deadline = System.currentTimeMillis() + 60_000
        while (System.currentTimeMillis() < deadline && parts.any { c.position(it) < end[it]!! }) {
            for (r in c.poll(Duration.ofMillis(200))) {
                fun h(k: String) = r.headers().lastHeader(k)?.value()?.toString(Charsets.UTF_8)
                if (h("tb-app-id") != "kotlin-crash") continue
                val value = String(r.value(), Charsets.UTF_8)
                val user = h("tb-user-id") ?: h("tb-anonymous-id") ?: ""
                users += user
                val session = sessionRe.find(value)?.groupValues?.get(1)
                if (session != null) sessions += user to session
                when (h("tb-event-name")) {
                    "Order Completed" -> n.find(value)?.let { val k = it.groupValues[1].toInt(); orders[k] = (orders[k] ?: 0) + 1 }
                    "Application Crashed" -> {
                        crashes++
                        crashedUsers += user
                        if (session != null) crashedSessions += user to session
                        expect(value.contains("\"stackHash\":") && value.contains("IllegalStateException") &&
                            value.contains("\"appVersion\":\"3.1.0\""), "crash event lacks its facts: $value")
                    }
                }
            }
        }
    }
    try { assertEachOnce(orders, (3000 until 3020) + (3100 until 3105)) } catch (e: AssertionError) { expect(false, e.toString()) }
    expect(crashes == 1, "$crashes crash events (want exactly 1)")
    val wantSessions = 1.0 - crashedSessions.size.toDouble() / sessions.size
    val wantUsers = 1.0 - crashedUsers.size.toDouble() / users.size
    println("computed from Kafka: ${sessions.size} sessions (${crashedSessions.size} crashed), ${users.size} users (${crashedUsers.size} crashed)")

    // The pipeline, reading the same topics, must report the same ratios.
    val url = prop("pipelineMetrics")
    fun gauge(text: String, name: String): Double? = text.lines()
        .firstOrNull { it.startsWith("tributary_pipeline_health_$name{") && it.contains("app=\"kotlin-crash\"") && it.contains("app_version=\"3.1.0\"") }
        ?.substringAfterLast(' ')?.toDoubleOrNull()
    var got: Pair<Double?, Double?> = null to null
    val until = System.currentTimeMillis() + 60_000
    while (System.currentTimeMillis() < until) {
        val text = runCatching { java.net.URL(url).readText() }.getOrDefault("")
        got = gauge(text, "crash_free_sessions_ratio") to gauge(text, "crash_free_users_ratio")
        if (got.first == wantSessions && got.second == wantUsers) break
        Thread.sleep(500)
    }
    println("pipeline: crash-free sessions ${got.first} (want $wantSessions), users ${got.second} (want $wantUsers)")
    expect(got.first == wantSessions && got.second == wantUsers, "pipeline figures differ")
    println("test an uncaught exception is delivered once by the next start and counted by the pipeline ... ${if (ok) "ok" else "FAILED"}")
    println("kotlin crash: ${if (ok) 1 else 0} passed, ${if (ok) 0 else 1} failed")
    return if (ok) 0 else 1
}

fun main() {
    val code = when (System.getProperty("tributary.mode") ?: "suite") {
        "suite" -> suite()
        "enqueue-then-die" -> enqueueThenDie()
        "deliver-after-restart" -> deliverAfterRestart()
        "track-then-crash" -> trackThenCrash()
        "deliver-crash" -> deliverCrash()
        else -> error("unknown mode")
    }
    exitProcess(code)
}

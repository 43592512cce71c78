// The idiomatic Kotlin face of Tributary: `Tributary.configure(...)`, then
// `Tributary.track("Order Completed", mapOf("total" to 12.5))`.
//
// A thin layer over the generated bindings (package dev.tributary.ffi): it
// turns Kotlin maps into the JSON the core checks, holds the one client of
// the process, and maps lifecycle callbacks. Everything else — queueing,
// persistence, batching, retries — happens in the shared Rust core, exactly
// as on iOS and the web.
package dev.tributary

import dev.tributary.ffi.BeforeSendPlugin
import dev.tributary.ffi.Consent
import dev.tributary.ffi.DebugLogger
import dev.tributary.ffi.DeviceContext
import dev.tributary.ffi.FlushReport
import dev.tributary.ffi.HttpSender
import dev.tributary.ffi.Lifecycle
import dev.tributary.ffi.Stats
import dev.tributary.ffi.TributaryConfig
import dev.tributary.ffi.TributaryException
import java.io.File
import dev.tributary.ffi.Tributary as NativeTributary

/** Tunables for [Tributary.configure]; defaults are the core's. */
class TributaryOptions {
    /** Send once this many events are queued. */
    var flushAtEvents: Int = 20
    /** Send once the oldest queued event is this old (ms). */
    var flushIntervalMs: Long = 30_000
    /** Most events kept on the device. */
    var maxQueueEvents: Int = 10_000
    /** Most bytes kept on the device. */
    var maxQueueBytes: Long = 5L shl 20
    /** Inactivity that starts a new session (ms). */
    var sessionTimeoutMs: Long = 30 * 60 * 1000
    /** Share of devices that send non-health events. */
    var sampleRate: Double = 1.0
    /** Timeout of one upload with the default transport (ms). */
    var requestTimeoutMs: Int = 15_000
    /** Consent at first start (afterwards the last value set is kept). */
    var initialConsent: Consent? = null
    /** The app's own HTTP stack (e.g. OkHttp); null uses [HttpUrlConnectionSender]. */
    var transport: HttpSender? = null
    /** App version, for `Application Installed/Updated/Opened` and the context. */
    var appVersion: String? = null
    /** App build. */
    var appBuild: String? = null
    /** Record installed/updated/opened/foregrounded/backgrounded on its own. */
    var autoLifecycle: Boolean = true
    /** Record screen views the platform layer reports (Android activities). */
    var autoScreens: Boolean = true
    /** Record uncaught exceptions as `Application Crashed` (sent on the next start). */
    var autoErrors: Boolean = true
    /** Campaign (UTM) context from deep links. */
    var autoAttribution: Boolean = true
    /** Fetch the gateway's settings (kill switches, sampling, batching). */
    var remoteSettings: Boolean = true
    /** On the JVM: a shutdown hook records `Application Backgrounded` and flushes briefly. */
    var shutdownHook: Boolean = true
    /** Log each decision (queued, dropped and why, batch sent, answer) to [debugLogger]. */
    var debug: Boolean = false
    /** Where debug lines go; standard output by default (logcat's `System.out` on Android). */
    var debugLogger: (String) -> Unit = { println("Tributary: $it") }
}

/**
 * An app's transport, kept from throwing into the core: an exception
 * crossing the FFI would end the SDK's worker thread, so it is reported as
 * a network error (and retried like one).
 */
internal class GuardedSender(private val inner: HttpSender) : HttpSender {
    override fun send(request: dev.tributary.ffi.HttpRequest): dev.tributary.ffi.HttpOutcome =
        try { inner.send(request) } catch (e: Throwable) { dev.tributary.ffi.HttpOutcome.NetworkError(e.toString()) }
}

/** The process-wide Tributary client. */
object Tributary {
    @Volatile
    private var client: NativeTributary? = null
    private var crashHandlerInstalled = false
    private var hook: Thread? = null

    private fun require(): NativeTributary =
        client ?: throw IllegalStateException("Tributary.configure(...) has not been called")

    /**
     * Starts the SDK. [storageDir] must be app-private (e.g. `context.filesDir/"tributary"`).
     * Calling it again replaces the running client (after flushing it briefly).
     * @throws TributaryException.InvalidConfig if a setting is unusable.
     */
    @Synchronized
    fun configure(writeKey: String, endpoint: String, storageDir: File, options: TributaryOptions.() -> Unit = {}) {
        val o = TributaryOptions().apply(options)
        val config = TributaryConfig(
            writeKey = writeKey,
            endpoint = endpoint,
            storageDir = storageDir.absolutePath,
            flushAtEvents = o.flushAtEvents.toUInt(),
            flushIntervalMs = o.flushIntervalMs.toULong(),
            maxQueueEvents = o.maxQueueEvents.toUInt(),
            maxQueueBytes = o.maxQueueBytes.toULong(),
            sessionTimeoutMs = o.sessionTimeoutMs.toULong(),
            sampleRate = o.sampleRate,
            initialConsent = o.initialConsent,
            autoLifecycle = o.autoLifecycle,
            autoScreens = o.autoScreens,
            autoErrors = o.autoErrors,
            autoAttribution = o.autoAttribution,
            remoteSettings = o.remoteSettings,
            debug = o.debug,
        )
        client?.let { runCatching { it.shutdown(1_000uL) } }
        val c = NativeTributary(config, o.transport?.let(::GuardedSender) ?: HttpUrlConnectionSender(o.requestTimeoutMs))
        client = c
        if (o.debug) {
            val log = o.debugLogger
            c.setDebugLogger(object : DebugLogger { override fun log(line: String) = log(line) })
        }
        if (o.appVersion != null || o.appBuild != null) {
            c.setContext(DeviceContext(appVersion = o.appVersion, appBuild = o.appBuild,
                osName = System.getProperty("os.name"), osVersion = System.getProperty("os.version")))
        }
        c.appOpened(o.appVersion, o.appBuild, null)
        // Installed once per process; it records through whichever client is current.
        if (o.autoErrors && !crashHandlerInstalled) {
            crashHandlerInstalled = true
            Thread.setDefaultUncaughtExceptionHandler(ProcessCrashHandler(Thread.getDefaultUncaughtExceptionHandler()))
        }
        if (o.shutdownHook && hook == null) {
            hook = Thread({ client?.let { runCatching { it.lifecycle(Lifecycle.BACKGROUND); it.flush(2_000uL) } } }, "tributary-shutdown")
                .also { Runtime.getRuntime().addShutdownHook(it) }
        }
    }

    /**
     * The uncaught-exception handler, installed once per process: writes the
     * crash through the current client's crash-safe store (synchronously,
     * before the process dies), then hands the exception to the handler that
     * was there before, so the app's own crash reporting and the platform's
     * process kill still happen.
     */
    private class ProcessCrashHandler(private val previous: Thread.UncaughtExceptionHandler?) : Thread.UncaughtExceptionHandler {
        override fun uncaughtException(t: Thread, e: Throwable) {
            client?.let { c ->
                runCatching {
                    val stack = e.stackTrace.take(64).joinToString("\n") { "at $it" }
                    c.recordCrash(e.javaClass.name, e.message ?: "", stack, "uncaught_exception")
                }
            }
            if (previous != null) previous.uncaughtException(t, e) else {
                System.err.print("Exception in thread \"${t.name}\" ")
                e.printStackTrace()
            }
        }
    }

    /**
     * Adds a before-send plugin: it gets each recorded event as JSON text
     * (`type`, `event`/`name`, `messageId`, ids, `properties`…) and returns
     * it, changed or not, or null to drop it (counted as `dropped_by_plugin`).
     */
    fun addPlugin(plugin: (String) -> String?) = require().addPlugin(object : BeforeSendPlugin {
        override fun process(eventJson: String): String? = plugin(eventJson)
    })

    /** A screen the app shows (automatic capture: recorded only while screen capture is on). */
    fun screenViewed(name: String, properties: Map<String, Any?> = emptyMap()) =
        require().screenViewed(name, Json.encode(properties))

    /** A deep link the app was opened with; its UTM parameters go on the next event. */
    fun openedUrl(url: String) = require().openedUrl(url)

    /** Records a named action with its properties. */
    fun track(event: String, properties: Map<String, Any?> = emptyMap()) =
        require().track(event, Json.encode(properties))

    /** Ties this device to a user. */
    fun identify(userId: String, traits: Map<String, Any?> = emptyMap()) =
        require().identify(userId, Json.encode(traits))

    /** Records a screen view. */
    fun screen(name: String, properties: Map<String, Any?> = emptyMap()) =
        require().screen(name, Json.encode(properties))

    /** Ties the user to a group (account). */
    fun group(groupId: String, traits: Map<String, Any?> = emptyMap()) =
        require().group(groupId, Json.encode(traits))

    /** Merges the current identity into [newUserId]. */
    fun alias(newUserId: String) = require().alias(newUserId)

    /** Forgets the user (logout). */
    fun reset() = require().reset()

    /** Sends what is queued, waiting at most [deadlineMs]. */
    fun flush(deadlineMs: Long = 5_000): FlushReport = require().flush(deadlineMs.toULong())

    /** Consent: [Consent.PENDING] buffers, [Consent.DENIED] purges (opt-out). */
    fun setConsent(consent: Consent) = require().setConsent(consent)

    /** Network hint (e.g. from ConnectivityManager). */
    fun setOnline(online: Boolean) = require().setOnline(online)

    /** Device and app facts sent with every batch. */
    fun setContext(context: DeviceContext) = require().setContext(context)

    /** App came to the foreground. */
    fun onForeground() = require().lifecycle(Lifecycle.FOREGROUND)

    /** App went to the background: queued events are sent now. */
    fun onBackground() = require().lifecycle(Lifecycle.BACKGROUND)

    /** Process about to end: a short final flush. */
    fun onTerminate() = require().lifecycle(Lifecycle.TERMINATE)

    /** Counters and queue size. */
    fun stats(): Stats = require().stats()

    /** Flushes for at most [deadlineMs] and stops; queued events stay on disk. */
    @Synchronized
    fun shutdown(deadlineMs: Long = 5_000): FlushReport? {
        val c = client ?: return null
        client = null
        return try { c.shutdown(deadlineMs.toULong()) } finally { c.close() }
    }
}

/**
 * Minimal JSON writer for property maps: strings, numbers, booleans, null,
 * maps with string keys, lists and arrays. No dependency, so the SDK adds
 * nothing to an app's dependency graph.
 */
object Json {
    /** Encodes a property map as a JSON object. */
    fun encode(value: Map<String, Any?>): String = StringBuilder().also { write(it, value) }.toString()

    private fun write(out: StringBuilder, v: Any?) {
        when (v) {
            null -> out.append("null")
            is String -> string(out, v)
            is Boolean -> out.append(v)
            is Double -> { require(v.isFinite()) { "NaN and Infinity are not valid JSON" }; out.append(v) }
            is Float -> { require(v.isFinite()) { "NaN and Infinity are not valid JSON" }; out.append(v) }
            is Number -> out.append(v)
            is Map<*, *> -> {
                out.append('{')
                var first = true
                for ((k, x) in v) {
                    require(k is String) { "property names must be strings, got ${k?.javaClass}" }
                    if (!first) out.append(',')
                    first = false
                    string(out, k)
                    out.append(':')
                    write(out, x)
                }
                out.append('}')
            }
            is Iterable<*> -> { out.append('['); v.forEachIndexed { i, x -> if (i > 0) out.append(','); write(out, x) }; out.append(']') }
            is Array<*> -> write(out, v.asList())
            else -> string(out, v.toString())
        }
    }

    private fun string(out: StringBuilder, s: String) {
        out.append('"')
        for (c in s) {
            when (c) {
                '"' -> out.append("\\\"")
                '\\' -> out.append("\\\\")
                '\n' -> out.append("\\n")
                '\r' -> out.append("\\r")
                '\t' -> out.append("\\t")
                else -> if (c < ' ') out.append(String.format("\\u%04x", c.code)) else out.append(c)
            }
        }
        out.append('"')
    }
}

// The default upload transport on the JVM and Android: java.net's
// HttpURLConnection, so uploads use the platform's TLS, trust store and
// proxy settings and the SDK adds no HTTP dependency. Apps on OkHttp can
// pass their own HttpSender instead.
package dev.tributary

import dev.tributary.ffi.HttpOutcome
import dev.tributary.ffi.HttpRequest
import dev.tributary.ffi.HttpSender
import java.net.HttpURLConnection
import java.net.SocketTimeoutException
import java.net.URL

/** Sends uploads with [HttpURLConnection]; called on the SDK's worker thread. */
class HttpUrlConnectionSender(private val timeoutMs: Int = 15_000) : HttpSender {
    override fun send(request: HttpRequest): HttpOutcome {
        return try {
            val c = URL(request.url).openConnection() as HttpURLConnection
            try {
                c.requestMethod = request.method
                c.connectTimeout = timeoutMs
                c.readTimeout = timeoutMs
                c.useCaches = false
                for ((k, v) in request.headers) c.setRequestProperty(k, v)
                if (request.method == "POST") {
                    c.doOutput = true
                    c.setFixedLengthStreamingMode(request.body.size)
                    c.outputStream.use { it.write(request.body) }
                }
                val status = c.responseCode
                val stream = if (status >= 400) c.errorStream else c.inputStream
                val body = stream?.use { it.readBytes() } ?: ByteArray(0)
                HttpOutcome.Response(status.toUShort(), c.getHeaderField("Retry-After"), body)
            } finally {
                c.disconnect()
            }
        } catch (e: SocketTimeoutException) {
            HttpOutcome.Timeout
        } catch (e: Exception) {
            HttpOutcome.NetworkError(e.toString())
        }
    }
}

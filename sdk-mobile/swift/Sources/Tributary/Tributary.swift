// The idiomatic Swift face of Tributary:
//
//     try Tributary.configure(writeKey: "wk_…", endpoint: URL(string: "https://events.example.com")!)
//     Tributary.track("Order Completed", ["total": 12.5])
//
// A thin layer over the generated bindings (TributaryFFI.swift): it turns
// dictionaries into the JSON the core checks, supplies a URLSession
// transport, ties the SDK to the app lifecycle (UIApplication
// notifications: the core records foregrounded/backgrounded and opened),
// installs an uncaught Objective-C exception handler that writes the crash
// through the core's crash-safe store and chains to the one before, and
// adapts closures to before-send plugins. Queueing, persistence, batching,
// retries and every auto-capture decision happen in the shared Rust core.
//
// NOT COMPILED IN CI: there is no Swift toolchain on the project's build
// machines. This file is kept small on purpose; see sdk-mobile/README.md.
import Foundation
// The generated bindings live in their own module so the generated class
// `Tributary` and this facade's `Tributary` do not collide.
@_exported import TributaryFFI
#if canImport(UIKit)
import UIKit
#endif

/// Uploads with URLSession. Called on the SDK's worker thread, so it may block.
public final class URLSessionSender: HttpSender {
    private let session: URLSession
    public init(timeout: TimeInterval = 15) {
        let config = URLSessionConfiguration.default
        config.timeoutIntervalForRequest = timeout
        session = URLSession(configuration: config)
    }

    public func send(request: HttpRequest) -> HttpOutcome {
        guard let url = URL(string: request.url) else { return .networkError(reason: "bad URL") }
        var req = URLRequest(url: url)
        req.httpMethod = request.method
        if request.method == "POST" { req.httpBody = request.body }
        for (k, v) in request.headers { req.setValue(v, forHTTPHeaderField: k) }
        let done = DispatchSemaphore(value: 0)
        var outcome = HttpOutcome.timeout
        session.dataTask(with: req) { data, response, error in
            if let http = response as? HTTPURLResponse {
                outcome = .response(status: UInt16(http.statusCode),
                                    retryAfter: http.value(forHTTPHeaderField: "Retry-After"),
                                    body: data ?? Data())
            } else if let e = error as? URLError, e.code == .timedOut {
                outcome = .timeout
            } else {
                outcome = .networkError(reason: error.map { "\($0)" } ?? "no response")
            }
            done.signal()
        }.resume()
        done.wait()
        return outcome
    }
}

/// A closure as a before-send plugin: gets the event's JSON, returns it (changed or not) or nil to drop it.
final class ClosurePlugin: BeforeSendPlugin, @unchecked Sendable {
    private let body: (String) -> String?
    init(_ body: @escaping (String) -> String?) { self.body = body }
    func process(eventJson: String) -> String? { body(eventJson) }
}

/// The debug log's lines to a closure (Xcode's console by default).
final class ClosureLogger: DebugLogger, @unchecked Sendable {
    private let body: (String) -> Void
    init(_ body: @escaping (String) -> Void) { self.body = body }
    func log(line: String) { body(line) }
}

/// The handler that was installed before ours; called after the crash is written.
private var previousExceptionHandler: (@convention(c) (NSException) -> Void)?

public enum Tributary {
    fileprivate static var client: TributaryFFI.Tributary?
    #if canImport(UIKit)
    private static var observers: [NSObjectProtocol] = []
    #endif

    /// Starts the SDK; the queue lives in Application Support/tributary.
    /// Records `Application Installed`/`Updated`/`Opened` (with the bundle's
    /// version) and, with `captureCrashes`, uncaught Objective-C exceptions
    /// (delivered on the next start). Swift runtime traps (fatalError, forced
    /// unwraps) are signals, not exceptions, and are not captured. With
    /// `debug`, each decision (queued, dropped and why, batch sent, answer)
    /// goes to `debugLogger`.
    public static func configure(writeKey: String, endpoint: URL, transport: HttpSender = URLSessionSender(),
                                 flushAtEvents: UInt32 = 20, captureCrashes: Bool = true,
                                 deepLink: URL? = nil, debug: Bool = false,
                                 debugLogger: @escaping (String) -> Void = { print("Tributary: \($0)") }) throws {
        let dir = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
            .appendingPathComponent("tributary", isDirectory: true)
        let config = TributaryConfig(writeKey: writeKey, endpoint: endpoint.absoluteString,
                                     storageDir: dir.path, flushAtEvents: flushAtEvents,
                                     autoErrors: captureCrashes, debug: debug)
        let c = try TributaryFFI.Tributary(config: config, transport: transport)
        client = c
        if debug { try? c.setDebugLogger(logger: ClosureLogger(debugLogger)) }
        let info = Bundle.main.infoDictionary
        let version = info?["CFBundleShortVersionString"] as? String
        let build = info?["CFBundleVersion"] as? String
        try? c.setContext(context: DeviceContext(appVersion: version, appBuild: build))
        try? c.appOpened(version: version, build: build, url: deepLink?.absoluteString)
        if captureCrashes { installCrashHandler() }
        observeLifecycle()
    }

    /// Adds a before-send plugin: gets each recorded event's JSON, returns it (changed or not) or nil to drop it.
    public static func addPlugin(_ plugin: @escaping (String) -> String?) {
        try? client?.addPlugin(plugin: ClosurePlugin(plugin))
    }

    /// A view controller the app shows (call from `viewDidAppear`); recorded while screen capture is on.
    public static func screenViewed(_ name: String, _ properties: [String: Any] = [:]) {
        try? client?.screenViewed(name: name, propertiesJson: json(properties))
    }

    /// A deep link opened while the app runs; its UTM parameters go on the next event.
    public static func openedURL(_ url: URL) { try? client?.openedUrl(url: url.absoluteString) }

    private static func installCrashHandler() {
        guard previousExceptionHandler == nil else { return }
        previousExceptionHandler = NSGetUncaughtExceptionHandler()
        NSSetUncaughtExceptionHandler { exception in
            let stack = exception.callStackSymbols.prefix(64).joined(separator: "\n")
            try? Tributary.client?.recordCrash(kind: exception.name.rawValue, message: exception.reason ?? "",
                                               stack: stack, source: "objc_exception")
            previousExceptionHandler?(exception)
        }
    }

    public static func track(_ event: String, _ properties: [String: Any] = [:]) {
        try? client?.track(event: event, propertiesJson: json(properties))
    }
    public static func identify(_ userId: String, traits: [String: Any] = [:]) {
        try? client?.identify(userId: userId, traitsJson: json(traits))
    }
    public static func screen(_ name: String, _ properties: [String: Any] = [:]) {
        try? client?.screen(name: name, propertiesJson: json(properties))
    }
    public static func group(_ groupId: String, traits: [String: Any] = [:]) {
        try? client?.group(groupId: groupId, traitsJson: json(traits))
    }
    public static func alias(_ newUserId: String) { try? client?.alias(newUserId: newUserId) }
    public static func reset() { try? client?.reset() }
    public static func setConsent(_ consent: Consent) { try? client?.setConsent(consent: consent) }
    @discardableResult
    public static func flush(deadline: TimeInterval = 5) -> FlushReport? {
        try? client?.flush(deadlineMs: UInt64(deadline * 1000))
    }

    private static func json(_ value: [String: Any]) -> String? {
        guard JSONSerialization.isValidJSONObject(value),
              let data = try? JSONSerialization.data(withJSONObject: value) else { return nil }
        return String(data: data, encoding: .utf8)
    }

    private static func observeLifecycle() {
        #if canImport(UIKit)
        let nc = NotificationCenter.default
        observers.forEach(nc.removeObserver)
        observers = [
            nc.addObserver(forName: UIApplication.willEnterForegroundNotification, object: nil, queue: nil) { _ in
                try? client?.lifecycle(event: .foreground)
            },
            nc.addObserver(forName: UIApplication.didEnterBackgroundNotification, object: nil, queue: nil) { _ in
                // Ask iOS for time to finish the upload, and give it back when done.
                var task = UIBackgroundTaskIdentifier.invalid
                task = UIApplication.shared.beginBackgroundTask { UIApplication.shared.endBackgroundTask(task) }
                DispatchQueue.global(qos: .utility).async {
                    _ = try? client?.flush(deadlineMs: 20_000)
                    UIApplication.shared.endBackgroundTask(task)
                }
            },
            nc.addObserver(forName: UIApplication.willTerminateNotification, object: nil, queue: nil) { _ in
                try? client?.lifecycle(event: .terminate)
            },
        ]
        #endif
    }
}

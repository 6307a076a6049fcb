import Logging
import Synchronization

/// Logs a store fault once when it starts and once when writes succeed again,
/// rather than once per retry. One per daemon, shared by its services, so a
/// fault is one line however many parts of the daemon run into it.
public final class StoreFaultLog: Sendable {
    private let failing = Mutex<Bool>(false)
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    func failed(_ what: String, _ error: any Error) {
        let first = failing.withLock { failing in
            defer { failing = true }
            return !failing
        }
        if first { logger.error("store fault while \(what): \(error); retrying until writes succeed") }
    }

    func succeeded() {
        let recovered = failing.withLock { failing in
            defer { failing = false }
            return failing
        }
        if recovered { logger.notice("store writes succeed again") }
    }
}

import Logging
import Synchronization

/// Logs a store fault once when it starts and once when it is over, rather
/// than once per retry. One per daemon, shared by its services, so a fault is
/// one line however many parts of the daemon run into it.
///
/// A fault is over when every kind of operation that failed (recording,
/// claiming, maintaining leases...) has succeeded since: a heartbeat that
/// fits in the space a full disk freed does not mean results can be
/// recorded (it made the log flap every second).
public final class StoreFaultLog: Sendable {
    private let failing = Mutex<Set<String>>([])
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// `what` failed; `kind` names the operation, for `succeeded(kind)`
    /// (by default the description up to its first count).
    func failed(_ what: String, _ error: any Error, kind: String? = nil) {
        let key = kind ?? Self.kind(of: what)
        let first = failing.withLock { failing in
            defer { failing.insert(key) }
            return failing.isEmpty
        }
        if first { logger.error("store fault while \(what): \(error); retrying until writes succeed") }
    }

    func succeeded(_ kind: String) {
        let recovered = failing.withLock { failing in
            failing.remove(kind) != nil && failing.isEmpty
        }
        if recovered { logger.notice("store writes succeed again") }
    }

    static func kind(of what: String) -> String {
        String(what.prefix { !$0.isNumber }).trimmingCharacters(in: .whitespaces)
    }
}

import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Faults of the daemon's own resources while starting commands: out of file
/// descriptors (EMFILE, ENFILE), of processes (EAGAIN) or of memory (ENOMEM).
/// They are the daemon's faults, not the items': the item is handed back
/// (not failed), the fault is logged once, and slots wait before claiming
/// again, longer while it lasts (50 ms doubling to 5 s, with jitter), so
/// fewer commands run at once until starting succeeds again.
///
/// A fault and its end are logged once per episode: an episode ends when
/// commands have started for `quiet` with no fault, not at the first start
/// that works (at a process limit, starts fail and succeed by turns).
///
/// One per process: the limits it reacts to are the process's.
final class ResourceFaults: Sendable {
    static let shared = ResourceFaults()

    private struct State {
        var delay: Double = 0
        var lastFault: ContinuousClock.Instant?
        var logged = false
        var reason = ""
    }

    private let state = Mutex(State())
    let quiet: Duration = .seconds(5)

    /// The errno values that are the daemon's faults when a command cannot start.
    static func isResourceErrno(_ code: Int32) -> Bool {
        code == EMFILE || code == ENFILE || code == EAGAIN || code == ENOMEM
    }

    func failed(_ reason: String) {
        state.withLock { state in
            state.lastFault = .now
            state.reason = reason
            state.delay = min(5, max(0.05, state.delay * 2))
        }
    }

    /// A command started: slots stop waiting, and an episode quiet for long
    /// enough is over.
    func succeeded(logger: Logger) {
        let recovered = state.withLock { state in
            guard let lastFault = state.lastFault else { return false }
            state.delay = 0
            guard ContinuousClock.now - lastFault >= quiet else { return false }
            state.lastFault = nil
            defer { state.logged = false }
            return state.logged
        }
        if recovered { logger.notice("commands start again") }
    }

    /// Logs the fault once per episode.
    func log(logger: Logger) {
        let (first, reason) = state.withLock { state in
            let first = state.lastFault != nil && !state.logged
            if first { state.logged = true }
            return (first, state.reason)
        }
        if first {
            logger.error("cannot start commands: \(reason); a fault of this daemon, not of the items: they are handed back, and fewer run at once until starting succeeds again")
        }
    }

    /// How long a slot waits before claiming again; zero when there is no fault.
    var backoff: Duration {
        state.withLock { state in
            state.delay > 0 ? .milliseconds(Int64(state.delay * 1000 * Double.random(in: 0.5...1.5))) : .zero
        }
    }
}

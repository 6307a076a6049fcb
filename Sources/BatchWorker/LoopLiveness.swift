import Foundation
import Synchronization

/// Whether the daemon's loops are alive: each loop (maintenance, the lease
/// audit, the commit loop, each slot's claims) marks the start and end of
/// every pass, and a loop is wedged when one pass has lasted longer than a
/// limit.
///
/// A pass is one store call, so a daemon waiting out a store fault (the
/// database full, a lock held past the busy timeout) stays alive: each
/// attempt ends with an error within the busy timeout and the next begins.
/// Running items do not count: a command may rightly run for hours.
/// `batchd` feeds systemd's watchdog and answers `/healthz` from this.
public final class LoopLiveness: Sendable {
    /// When each loop's current pass began (nil between passes).
    private let loops = Mutex<[String: UInt64?]>([:])

    public init() {}

    /// A pass of `loop` begins.
    public func begin(_ loop: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        loops.withLock { $0[loop] = .some(now) }
    }

    /// The pass of `loop` ended.
    public func end(_ loop: String) {
        loops.withLock { $0[loop] = .some(nil) }
    }

    /// Runs `body` as one pass of `loop`.
    public func pass<T>(_ loop: String, _ body: () throws -> T) rethrows -> T {
        begin(loop)
        defer { end(loop) }
        return try body()
    }

    /// Why the daemon is not alive (a loop stuck in one pass for longer
    /// than `limit` seconds), or nil when every loop is alive.
    public func problem(limit: TimeInterval) -> String? {
        let now = DispatchTime.now().uptimeNanoseconds
        return loops.withLock { loops -> String? in
            for (name, busySince) in loops.sorted(by: { $0.key < $1.key }) {
                if let since = busySince, now > since, Double(now - since) / 1e9 > limit {
                    return "the \(name) loop has been in one pass for \(Int(Double(now - since) / 1e9)) s"
                }
            }
            return nil
        }
    }
}

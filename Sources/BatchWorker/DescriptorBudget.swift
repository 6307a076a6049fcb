import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What file descriptors a daemon has to spend on its workers, so that
/// `--workers` never asks for more than the limit (`ulimit -n`) allows: past
/// it, starting a process fails (and swift-subprocess, used for stream mode,
/// traps instead of failing).
public enum DescriptorBudget {
    /// Descriptors one worker may hold at once: a stream process's three
    /// pipes (six ends) with a pidfd and a spare; a per-item run needs fewer.
    public static let perWorker = 8
    /// What starting one stream process needs free.
    static let perStreamProcess = 16
    /// Kept for the database, the metrics server and the runtime.
    public static let reserve = 32

    /// Raises the soft limit to the hard one (allowed without privileges),
    /// and returns the soft limit then in force.
    public static func raiseSoftLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            // Capped: a huge soft limit makes some libraries loop over every descriptor.
            raised.rlim_cur = min(limit.rlim_max, 1 << 20)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur >= rlim_t(Int32.max) ? Int(Int32.max) : Int(limit.rlim_cur)
    }

    /// How many workers fit under `limit` descriptors, given the ones open now.
    public static func workersAllowed(limit: Int, open: Int) -> Int {
        max(1, (limit - open - reserve) / perWorker)
    }

    /// The descriptors open in this process now.
    public static func openCount() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
    }

    /// Descriptors still free under the soft limit, if it can be told.
    static func free() -> Int? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int32.max) else { return nil }
        return Int(limit.rlim_cur) - openCount()
    }
}

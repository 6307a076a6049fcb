import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A cache of OS threads for work that blocks: reading a process's pipes
/// until it exits.
///
/// A job goes to an idle thread, or to a new thread when none is idle, so no
/// job ever waits for another to finish. That is why this is not a dispatch
/// queue: those run only about as many blocking jobs at once as there are
/// cores, and an item beyond that waited for a reader while its process ran.
/// Nor a thread per job: creating and tearing down a thread per item was a
/// sixth of the daemon's CPU in per-item mode (measured with perf). A thread
/// left idle for `idleTimeout` exits, so a burst does not keep its threads.
final class BlockingThreads: @unchecked Sendable {
    static let shared = BlockingThreads()

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var jobs: [@Sendable () -> Void] = []
    private var idle = 0
    private let idleTimeout: TimeInterval

    init(idleTimeout: TimeInterval = 10) {
        self.idleTimeout = idleTimeout
    }

    /// Runs `job` on a thread of the cache, at once.
    func run(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        if idle >= jobs.count {
            condition.signal()
            condition.unlock()
            return
        }
        condition.unlock()
        let thread = Thread { [self] in work() }
        thread.name = "batch-reader"
        thread.start()
    }

    /// Runs `body` on a thread of the cache and returns its result.
    func value<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            run { continuation.resume(returning: body()) }
        }
    }

    private func work() {
        // A child's SIGCHLD goes to the thread that started it. Blocked here (as
        // it is in every thread dispatch makes, which this one inherits from),
        // the kernel queues it and wakes the main thread to deliver it, once
        // per item; unblocked, the default action (ignore) discards it at once.
        // `waitpid` still reaps: only SIG_IGN as the disposition would change that.
        var childSignal = sigset_t()
        sigemptyset(&childSignal)
        sigaddset(&childSignal, SIGCHLD)
        pthread_sigmask(SIG_UNBLOCK, &childSignal, nil)
        condition.lock()
        while true {
            if jobs.isEmpty {
                idle += 1
                let woken = condition.wait(until: Date(timeIntervalSinceNow: idleTimeout))
                idle -= 1
                if !woken && jobs.isEmpty { break }
                continue
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
            condition.lock()
        }
        condition.unlock()
    }
}

import CSpawn
import Synchronization
#if canImport(Glibc)
import Glibc
#endif


/// Tells work running on another thread to stop, and wakes it if it waits in
/// `poll`: `fd` becomes readable once the signal is triggered.
///
/// Triggering is idempotent and safe from any thread or cancellation handler.
final class StopSignal: Sendable {
    private let triggered = Atomic<Bool>(false)
    /// An eventfd that is readable once triggered; -1 if none could be made
    /// (then waiters notice within their poll interval).
    let fd: Int32

    init() {
        fd = batch_eventfd(0, O_CLOEXEC | O_NONBLOCK)
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    var isTriggered: Bool { triggered.load(ordering: .acquiring) }

    func trigger() {
        guard !triggered.exchange(true, ordering: .acquiringAndReleasing), fd >= 0 else { return }
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }
}

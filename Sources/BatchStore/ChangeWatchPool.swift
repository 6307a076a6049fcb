import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The inotify descriptors a store keeps idle between waits on its change
/// feed (`SQLiteStore.storageWaitForChange`): made once and reused, since
/// adding a watch or closing one waits for a kernel grace period (12-18 ms
/// measured here), which every wait paid when each made its own.
///
/// A wait takes one and gives it back when it ends. Once the store is closed
/// the pool holds nothing: a watch given back after that (a wait that was
/// under way at the close) is closed then, not kept by a closed store.
final class ChangeWatchPool: Sendable {
    private let idle = Mutex<[Int32]?>([])
    private let closeDescriptor: @Sendable (Int32) -> Void

    init(closeDescriptor: @escaping @Sendable (Int32) -> Void = { _ = Glibc.close($0) }) {
        self.closeDescriptor = closeDescriptor
    }

    /// An idle watch, if there is one.
    func take() -> Int32? { idle.withLock { $0?.popLast() } }

    /// `fd` is idle again; closed at once if the pool is.
    func giveBack(_ fd: Int32) {
        let kept = idle.withLock { watches in
            guard watches != nil else { return false }
            watches!.append(fd)
            return true
        }
        if !kept { closeDescriptor(fd) }
    }

    /// Closes every idle watch, and from now on every one given back.
    func close() {
        for fd in idle.withLock({ watches in defer { watches = nil }; return watches ?? [] }) { closeDescriptor(fd) }
    }
}

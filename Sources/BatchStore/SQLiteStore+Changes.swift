import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension SQLiteStore {
    /// Waits on inotify for a write to any file of the database's folder (a
    /// commit writes the WAL; a checkpoint the database), then compares
    /// `PRAGMA data_version`: an idle follower wakes when something is
    /// committed, not twenty times a second. The watch is made once per
    /// store and its events queue up between waits, so a commit between a
    /// caller's last look and this wait is never missed; without inotify
    /// (or on a file system that does not report others' writes) the
    /// `timeout` bounds the wait.
    public func storageWaitForChange(from version: StorageVersion, timeout: TimeInterval) {
        let deadline = ContinuousClock.now + .seconds(max(0, timeout))
        guard let fd = changeWatchDescriptor() else {
            // No watch: look every 50 ms.
            while ContinuousClock.now < deadline, storageVersion() == version { usleep(50_000) }
            return
        }
        // A write to the WAL is seen when it starts, before its commit is
        // visible (the commit's last step updates the shared memory index,
        // which no event reports): after an event, look again every 5 ms for
        // a while rather than go back to a long wait.
        var settling = ContinuousClock.now - .seconds(1)
        while storageVersion() == version {
            let now = ContinuousClock.now
            guard now < deadline else { return }
            let wait = settling > now ? min(.milliseconds(5), deadline - now) : deadline - now
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min(Double(Int32.max), max(1, Double(wait.components.seconds) * 1000 + Double(wait.components.attoseconds) / 1e15)))
            if poll(&poller, 1, milliseconds) > 0 {
                // Drain what queued up: one look at the version covers them all.
                var buffer = [UInt8](repeating: 0, count: 4096)
                while Glibc.read(fd, &buffer, buffer.count) > 0 {}
                settling = ContinuousClock.now + .milliseconds(200)
            }
        }
    }

    /// The inotify descriptor watching the database's folder, made on first
    /// use; `nil` when inotify is not there.
    func changeWatchDescriptor() -> Int32? {
        changeWatch.withLock { watch -> Int32? in
            if let watch { return watch >= 0 ? watch : nil }
            let fd = inotify_init1(O_CLOEXEC | O_NONBLOCK)
            let folder = (path as NSString).deletingLastPathComponent
            // IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE
            if fd >= 0, inotify_add_watch(fd, folder.isEmpty ? "." : folder, 0x2 | 0x100 | 0x80 | 0x200) < 0 {
                Glibc.close(fd)
                watch = -1
                return nil
            }
            watch = fd
            return fd >= 0 ? fd : nil
        }
    }
}

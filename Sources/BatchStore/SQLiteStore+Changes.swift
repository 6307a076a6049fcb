import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension SQLiteStore {
    /// Waits on inotify for a write to any file of the database's folder (a
    /// commit writes the WAL; a checkpoint the database), then compares
    /// `PRAGMA data_version`: an idle follower or daemon wakes when something
    /// is committed, not twenty times a second. Each waiting thread holds a
    /// watch of its own (several threads of one process may wait at once:
    /// one shared queue of events would wake only one of them), taken from
    /// the store's idle ones and put back after, and looks at the version
    /// after the watch exists, so a commit made since the caller's `version`
    /// is never missed; without inotify (or on a file system that does not
    /// report others' writes) the `timeout` bounds the wait.
    ///
    /// Making a watch costs a kernel grace period, and so does a process's
    /// exit while it holds one (12-18 ms each, measured here): with no idle
    /// watch, a wait first looks every millisecond for `quickLooks` ms, so a
    /// short-lived command (`batch run` on a one-item job) that is answered
    /// within them never makes one.
    public func storageWaitForChange(from version: StorageVersion, timeout: TimeInterval) {
        let deadline = ContinuousClock.now + .seconds(max(0, timeout))
        let quickLooks = 100
        var looks = 0
        let taken = changeWatches.take()
        while taken == nil, looks < quickLooks {
            guard storageVersion() == version, ContinuousClock.now < deadline else { return }
            usleep(1000)
            looks += 1
        }
        guard let fd = taken ?? Self.changeWatchDescriptor(folder: (path as NSString).deletingLastPathComponent) else {
            // No watch: look every 50 ms.
            while ContinuousClock.now < deadline, storageVersion() == version { usleep(50_000) }
            return
        }
        defer { changeWatches.giveBack(fd) }
        // Only this database's files count: another database in the folder
        // (or a log file) must not wake its waiters.
        let name = Array((path as NSString).lastPathComponent.utf8)
        // A write to the WAL is seen when it starts, before its commit is
        // visible (the commit's last step updates the shared memory index,
        // which no event reports): after an event, look again every
        // millisecond for a while rather than go back to a long wait. (A look
        // is one `PRAGMA data_version`, a few microseconds; every 5 ms, it
        // was most of the latency of a one-item job.) Events queued while the
        // watch was idle count as such a write: one may be a commit under way.
        var settling = Self.drainEvents(fd, naming: name) ? ContinuousClock.now + .milliseconds(200) : ContinuousClock.now - .seconds(1)
        while storageVersion() == version {
            let now = ContinuousClock.now
            guard now < deadline else { return }
            let wait = settling > now ? min(.milliseconds(1), deadline - now) : deadline - now
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min(Double(Int32.max), max(1, Double(wait.components.seconds) * 1000 + Double(wait.components.attoseconds) / 1e15)))
            if poll(&poller, 1, milliseconds) > 0, Self.drainEvents(fd, naming: name) {
                settling = ContinuousClock.now + .milliseconds(200)
            }
        }
    }

    /// Reads every queued event (one look at the version covers them all);
    /// whether any was about a file whose name starts with `name` (the
    /// database, its `-wal`, its `-journal`).
    static func drainEvents(_ fd: Int32, naming name: [UInt8]) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 8192)
        var relevant = false
        while true {
            let count = Glibc.read(fd, &buffer, buffer.count)
            guard count > 0 else { return relevant }
            // struct inotify_event { int wd; uint32_t mask, cookie, len; char name[len]; }
            var offset = 0
            while offset + 16 <= count {
                let length = Int(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self) })
                let start = offset + 16
                let end = min(start + length, count)
                if !relevant, end - start >= name.count, Array(buffer[start..<(start + name.count)]) == name { relevant = true }
                offset = start + length
            }
        }
    }

    /// A new inotify descriptor watching `folder` for writes; `nil` when
    /// inotify is not there.
    static func changeWatchDescriptor(folder: String) -> Int32? {
        let fd = inotify_init1(O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        // IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE
        guard inotify_add_watch(fd, folder.isEmpty ? "." : folder, 0x2 | 0x100 | 0x80 | 0x200) >= 0 else {
            Glibc.close(fd)
            return nil
        }
        return fd
    }
}

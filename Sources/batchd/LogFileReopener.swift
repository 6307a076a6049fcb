import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `batchd --log-file PATH`: the log file on stdout and stderr (so what a
/// library prints lands there too), opened again on SIGHUP, as logrotate
/// expects of a daemon: after a rotation the daemon writes to the new file.
final class LogFileReopener: Sendable {
    let path: String
    /// Kept alive for the signal source's lifetime (the daemon's).
    nonisolated(unsafe) private var source: (any DispatchSourceSignal)?

    /// Nil (with `errno` set) when the file cannot be opened.
    init?(path: String) {
        self.path = path
        guard Self.open(path) else { return nil }
    }

    /// Opens `path` for appending (never through a symbolic link) onto
    /// descriptors 1 and 2.
    private static func open(_ path: String) -> Bool {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0o600)
        guard fd >= 0 else { return false }
        dup2(fd, 1)
        dup2(fd, 2)
        if fd > 2 { close(fd) }
        return true
    }

    /// From now on, SIGHUP reopens the file (an error there keeps the old one).
    func reopenOnHangup() {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { [path] in
            if !Self.open(path) {
                let message = "batchd: SIGHUP: cannot reopen the log file \(path): \(String(cString: strerror(errno))); writing on to the old one\n"
                _ = message.withCString { write(2, $0, strlen($0)) }
            }
        }
        source.resume()
        self.source = source
    }
}

import CSpawn
import Foundation
#if canImport(Glibc)
import Glibc
#endif


/// Finds and kills the processes batch started that nobody else will stop:
/// the commands of a daemon that died (its successor kills them when it
/// takes their chunks back), and what a killed command left behind outside
/// its process group (`setsid`). Processes are found by the environment
/// entries of `CommandMarker` in `/proc/PID/environ`.
///
/// Guarantees: a process is signalled through a pidfd opened before its
/// environment is read, so a pid reused meanwhile is never signalled.
/// Only processes this one may signal (its own uid, or any as root) are seen.
enum OrphanReaper {
    /// Kills (SIGKILL) every process whose environment holds all of
    /// `entries`; returns how many.
    @discardableResult
    static func kill(matching entries: [[UInt8]]) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return 0 }
        let me = getpid()
        var killed = 0
        for name in names {
            guard let pid = Int32(name), pid > 1, pid != me else { continue }
            let pidfd = batch_pidfd_open(pid, 0)
            guard pidfd >= 0 else { continue }
            defer { close(pidfd) }
            guard let environment = environ(of: pid), entries.allSatisfy({ environment.contains($0) }) else { continue }
            if batch_pidfd_send_signal(pidfd, SIGKILL) == 0 { killed += 1 }
        }
        return killed
    }

    /// Kills what the daemon with this pid and start time left running.
    @discardableResult
    static func killCommands(ofDaemon pid: Int32, start: Int64) -> Int {
        kill(matching: [CommandMarker.entry(CommandMarker.daemonName, CommandMarker.daemonValue(pid, start))])
    }

    /// The environment entries of a process, or nil when it cannot be read.
    static func environ(of pid: Int32) -> [[UInt8]]? {
        let fd = open("/proc/\(pid)/environ", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: buffer[0..<count])
            if bytes.count > 4 << 20 { break }
        }
        return bytes.split(separator: 0).map(Array.init)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Identifies a process on this host well enough to tell, later, whether it
/// is still the same running process: its pid and its kernel start time
/// (which changes when the pid is reused).
public struct ProcessIdentity: Sendable, Hashable {
    public var host: String
    public var pid: Int32
    public var start: Int64
    /// Where the pid means something (`Machine.id`); `nil` in older records.
    public var machineID: String?

    public init(host: String, pid: Int32, start: Int64, machineID: String? = nil) {
        self.host = host
        self.pid = pid
        self.start = start
        self.machineID = machineID
    }

    public var machine: Machine { Machine(host: host, id: machineID) }

    /// This process.
    public static var current: ProcessIdentity {
        let pid = getpid()
        return ProcessIdentity(host: hostName, pid: pid, start: startTime(of: pid) ?? 0, machineID: Machine.current.id)
    }

    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether the process is alive on this host: the pid exists and, where
    /// the kernel tells start times, it is the same process. A zombie counts
    /// as dead: it runs nothing any more.
    public static func isAlive(pid: Int32, start: Int64) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0 && errno == ESRCH { return false }
        guard let stat = procStat(of: pid) else {
            // No /proc (not Linux): trust kill(2).
            return !FileManager.default.fileExists(atPath: "/proc/self/stat")
        }
        if stat.state == "Z" || stat.state == "X" { return false }
        return start == 0 || stat.start == start
    }

    static func startTime(of pid: Int32) -> Int64? { procStat(of: pid)?.start }

    /// Fields 3 (state) and 22 (starttime) of /proc/PID/stat. The command
    /// name (field 2) may hold spaces and parentheses, so parse after the last ')'.
    static func procStat(of pid: Int32) -> (state: String, start: Int64)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 is fields[19].
        guard fields.count > 19, let start = Int64(fields[19]) else { return nil }
        return (String(fields[0]), start)
    }
}

import BatchStore
import Foundation

/// The environment entries batch adds to every command it starts, so that a
/// command and everything it starts can be found again from `/proc`, even
/// after the daemon that started it died or after it left its process group
/// (`setsid`):
///
/// - `BATCHD_PROCESS=PID.START`: the daemon that started it (pid and kernel
///   start time, so a reused pid never matches);
/// - `BATCH_JOB=ID` and, per item, `BATCH_LINE=N`: which item it runs, for
///   the command's own use too (like GNU parallel's `$PARALLEL_SEQ`);
/// - `BATCH_RUN=TOKEN`: a random token of this one run, so what it left
///   behind is told apart from any other run (one process may serve several
///   databases, whose job and line numbers overlap).
///
/// A process that clears its environment escapes this; the README says so.
enum CommandMarker {
    static let daemonName = "BATCHD_PROCESS"

    /// `BATCHD_PROCESS=` of this process.
    static let current: [UInt8] = entry(daemonName, daemonValue(ProcessIdentity.current.pid, ProcessIdentity.current.start))

    static func daemonValue(_ pid: Int32, _ start: Int64) -> String { "\(pid).\(start)" }

    static func entry(_ name: String, _ value: String) -> [UInt8] { Array("\(name)=\(value)".utf8) }

    /// The NUL-terminated entries for a run of `job` (of one item with `line`).
    static func entries(job: JobID, line: Int64?, run: UInt64 = .random(in: 1...UInt64.max)) -> [[UInt8]] {
        var entries = [current + [0], entry("BATCH_JOB", job.description) + [0], runEntry(run) + [0]]
        if let line { entries.append(entry("BATCH_LINE", "\(line)") + [0]) }
        return entries
    }

    static func runEntry(_ run: UInt64) -> [UInt8] { entry("BATCH_RUN", String(run, radix: 16)) }

    static func isMarker(_ entry: [UInt8]) -> Bool {
        for name in [daemonName, "BATCH_JOB", "BATCH_LINE", "BATCH_RUN"] where entry.starts(with: Array("\(name)=".utf8)) { return true }
        return false
    }
}

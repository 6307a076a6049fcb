import BatchStore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Draws a job's progress on stderr while `follow`, `wait` or `run` is
/// waiting: done / total (or "so far" while input arrives), failed, rate over
/// the last minute, elapsed, ETA. The figures come from the store, so any
/// terminal that attaches to a running job sees the same.
///
/// On a terminal it redraws one line in place (carriage return and "erase
/// line" — two escape codes, not worth a dependency) at most four times a
/// second and erases it when done; elsewhere (`--progress` into a file or
/// pipe) it writes a plain line every two seconds. It never writes to stdout.
struct ProgressReporter {
    enum Mode {
        case off
        case terminal
        case lines
    }

    static func mode(progress: Bool, noProgress: Bool) -> Mode {
        if noProgress { return .off }
        if isatty(2) == 1 { return .terminal }
        return progress ? .lines : .off
    }

    let store: any BatchStore
    let job: JobID
    let mode: Mode

    /// Runs until cancelled, then erases its line.
    func run() async {
        guard mode != .off else { return }
        let interval: Duration = mode == .terminal ? .milliseconds(250) : .seconds(2)
        var rate: Double?
        var rateReadAt = Date.distantPast
        defer { StatusLine.clear() }
        while !Task.isCancelled {
            if let current = try? store.jobFetch(job) {
                let now = Date()
                // Read once a second, and not before the first item finished: a
                // rate read before then would show 0.0/s beside items done.
                if current.finishedCount > 0, now.timeIntervalSince(rateReadAt) >= 1 {
                    rate = (try? store.finishRate(of: current, now: now)) ?? rate
                    rateReadAt = now
                }
                let text = Self.describe(current, rate: rate, now: now)
                if mode == .terminal { StatusLine.draw(text) } else { StandardError.line(text) }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// The progress line; a dash stands for a rate not measured yet.
    static func describe(_ job: Job, rate: Double?, now: Date) -> String {
        let total = job.state == .open ? "\(job.itemCount) so far" : "\(job.itemCount)"
        var text = "batch: job \(job.id): \(job.finishedCount)/\(total) done"
        if job.failedCount > 0 { text += ", \(job.failedCount) failed" }
        text += rate.map { String(format: ", %.1f/s", $0) } ?? ", -/s"
        text += ", " + clock(now.timeIntervalSince(job.createdAt)) + " elapsed"
        if job.state == .sealed, let rate, rate > 0 { text += ", ETA " + clock(Double(job.pendingCount) / rate) }
        return text
    }

    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600
            ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }
}

/// The one status line on a terminal's stderr: error lines erase it first,
/// so the two never mix.
enum StatusLine {
    private static let shown = Mutex<Bool>(false)
    static let erase = "\r\u{1B}[K"

    /// Redraws in place with one write: back to the line's start, the new
    /// text over the old, then erase what is left of the old (erasing first
    /// showed an empty line for a moment: a flicker).
    static func draw(_ text: String) {
        shown.withLock { shown in
            writeAll(2, Array(("\r" + text + "\u{1B}[K").utf8))
            shown = true
        }
    }

    static func clear() {
        shown.withLock { shown in
            if shown { writeAll(2, Array(erase.utf8)) }
            shown = false
        }
    }

    /// Writes a whole line to stderr, erasing the status line first.
    static func line(_ text: String) {
        shown.withLock { shown in
            writeAll(2, Array(((shown ? erase : "") + text + "\n").utf8))
            shown = false
        }
    }
}

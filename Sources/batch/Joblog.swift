import BatchStore
import Foundation

/// `--joblog FILE`: one line per run of the command, in GNU parallel's
/// joblog format, so scripts that read parallel's joblog read batch's:
/// `Seq Host Starttime JobRuntime Send Receive Exitval Signal Command`,
/// tab-separated. Seq is the run's first input line; Host is `:` (parallel's
/// mark for the local host; the daemon that ran it is not recorded); Send is
/// 0 (items are arguments, nothing is sent on stdin); Receive is the bytes of
/// output; Command is the command line as it ran, quoted for a shell.
///
/// The file is appended to (a resumed follower adds to it); the header is
/// written when the file is empty.
final class Joblog: @unchecked Sendable {
    // Written from one follower task at a time.
    private let fd: Int32
    private let builder: CommandLineBuilder

    init(path: String, job: Job) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CLIError(.cannotCreate, "cannot write the joblog \(path): \(String(cString: strerror(errno)))")
        }
        builder = CommandLineBuilder(spec: job.spec)
        var info = stat()
        if fstat(fd, &info) == 0, info.st_size == 0 {
            writeAll(fd, Array("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n".utf8))
        }
    }

    deinit { close(fd) }

    func write(_ result: ItemResult, inputs: [Data]) {
        let outcome = result.outcome
        let first = outcome.group?.lowerBound ?? result.line
        let items = inputs.enumerated().map { CommandLineBuilder.Item(Array($0.element), line: first + Int64($0.offset)) }
        let command = String(decoding: CommandLineBuilder.shellLine(builder.argv(for: items)), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ")
        let line = String(
            format: "%lld\t:\t%.3f\t%10.3f\t0\t%d\t%d\t%d\t", first, outcome.startedAt.timeIntervalSince1970,
            outcome.duration, outcome.output.count, outcome.exitStatus ?? 0, outcome.signal ?? 0)
        writeAll(fd, Array((line + command + "\n").utf8))
    }
}

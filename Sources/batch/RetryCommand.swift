import ArgumentParser
import BatchStore
import Foundation

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Run a finished job's failed items again (or only the listed ones).",
        discussion: """
            Puts the failed items back to pending and the job back to running; items that succeeded are \
            never run again. A cancelled or halted job also runs the items it never started. Follow or \
            wait on the job again: its ordered stream is then complete. --retries, --halt and --timeout \
            replace the job's own for this run and the ones after it. A listed line of a group run (-n, \
            -X) brings its whole group.

            Examples:
              batch retry 7
              batch retry 7 --items 3,10-12 && batch wait 7
              batch retry 7 --halt never --retries 2 --timeout 5m

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Option(help: "Only these input lines, if they failed: a list like 3,10-12.")
    var items: String?

    @Option(help: "Replace the job's --retries: run a failed item again up to N times.")
    var retries: Int?

    @Option(help: "Replace the job's --halt policy (now,fail=N, soon,fail=N, or never to remove it); its old failures no longer count, as they are run again.")
    var halt: String?

    @Option(help: "Replace the job's --timeout (a duration, a percentage of the median, or none to remove it).")
    var timeout: String?

    @Argument(help: "The job id.")
    var job: String

    var policy: JobPolicyChange {
        JobPolicyChange(
            retries: retries,
            halt: halt.map { $0 == "never" || $0 == "none" ? nil : HaltPolicy(parsing: $0) },
            timeout: timeout.map { $0 == "none" ? nil : ItemTimeout(parsing: $0) })
    }

    func validate() throws {
        _ = try parseJobID(job)
        if let retries, retries < 0 { throw ValidationError("--retries takes 0 or more, not \(retries)") }
        if let halt, halt != "never", halt != "none", HaltPolicy(parsing: halt) == nil {
            throw ValidationError("--halt takes now,fail=N or soon,fail=N (N a count or a percentage like 10%), or never, not '\(halt)'")
        }
        if let timeout, timeout != "none", ItemTimeout(parsing: timeout) == nil {
            throw ValidationError("--timeout takes a duration like 30s or 5m, a percentage like 300%, or none, not '\(timeout)'")
        }
        if let items, Self.parseLines(items) == nil {
            throw ValidationError("--items takes line numbers and ranges like 3,10-12, not '\(items)'")
        }
    }

    static func parseLines(_ text: String) -> [Int64]? {
        var lines: [Int64] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let low = Int64(bounds[0]), let high = Int64(bounds.last!),
                low >= 1, low <= high, high - low < 10_000_000
            else { return nil }
            lines.append(contentsOf: low...high)
        }
        return lines.isEmpty ? nil : lines
    }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            let id = try parseJobID(job)
            let reset = try db.jobRetryIfEnded(id, lines: items.flatMap(Self.parseLines), policy: policy, now: Date())
            let after = try db.jobFetch(id)
            try store.ensureDaemon(db, owner: after?.ownerUID ?? db.legacyOwner)
            let pending = after.map { $0.itemCount - $0.finishedCount } ?? Int64(reset)
            StandardError.line("batch: job \(id): \(reset) failed item(s) back to pending, \(pending) to run")
        }
    }
}

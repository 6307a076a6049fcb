import BatchStore
import Foundation

/// The JSON form of a job in `status --json` and `list --json` (a stable schema:
/// fields are only ever added).
struct JobSummary: Encodable {
    var id: Int64
    var state: String
    var command: [String]
    var workingDirectory: String
    /// Items stored so far; the total once `input_complete`.
    var items: Int64
    var inputComplete: Bool
    var finished: Int64
    var succeeded: Int64
    var failed: Int64
    var pending: Int64
    var createdAt: String
    var sealedAt: String?
    var finishedAt: String?
    /// Why the job failed, when its --halt policy stopped it.
    var haltReason: String?

    enum CodingKeys: String, CodingKey {
        case id, state, command, items, finished, succeeded, failed, pending
        case workingDirectory = "working_directory"
        case inputComplete = "input_complete"
        case createdAt = "created_at"
        case sealedAt = "sealed_at"
        case finishedAt = "finished_at"
        case haltReason = "halt_reason"
    }

    init(_ job: Job) {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        id = job.id.rawValue
        state = job.state.rawValue
        command = job.spec.command
        workingDirectory = job.spec.workingDirectory
        items = job.itemCount
        inputComplete = job.state != .open
        finished = job.finishedCount
        succeeded = job.succeededCount
        failed = job.failedCount
        pending = job.pendingCount
        createdAt = format.string(from: job.createdAt)
        sealedAt = job.sealedAt.map(format.string(from:))
        finishedAt = job.finishedAt.map(format.string(from:))
        haltReason = job.haltReason
    }

    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "{}"
    }

    /// The command as a shell would show it.
    static func commandText(_ command: [String]) -> String {
        command.map { word in
            word.isEmpty || word.contains(where: { " \t\n'\"$`\\|&;()<>*?[]{}~#".contains($0) })
                ? "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" : word
        }.joined(separator: " ")
    }
}

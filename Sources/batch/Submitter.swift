import BatchStore
import Foundation

/// Streams items from an input into a job: batched transactions, so items
/// become claimable while the input is still arriving, and flat memory
/// however long the input is.
///
/// A batch is written when it holds `batchItems(for:)` items or `batchBytes` bytes,
/// when the input pauses, or when its first item has waited `maxDelay`.
/// After the input ends the job is sealed (unless `seals` is false).
struct Submitter {
    let store: any BatchStore
    let jobID: JobID
    /// Items already stored by an earlier submitter (`--resume`): they are read
    /// again, compared at the last one, and skipped.
    let alreadyStored: Int64
    let inputName: String
    /// Whether the end of the input seals the job (not with `submit --open`).
    var seals = true
    var batchBytes = 1 << 20
    var maxDelay: TimeInterval = 0.05

    /// Items per transaction (a slow input is flushed sooner, by time:
    /// `maxDelay`). On a file 20,000: the submitter's transactions and the daemon's group
    /// commits take turns on SQLite's one write lock, and fewer turns waste
    /// less (a million items through `--stream` 5% faster than with 5,000,
    /// and 1,000 was slower still; measured in turns). On PostgreSQL 5,000:
    /// each batch ends by updating the job's count, which waits for a group
    /// commit holding the job's row; 5,000 was 15% faster than 1,000 for a
    /// 200,000-item stream job, and 20,000 was 5-10% slower again.
    static func batchItems(for location: StoreLocation) -> Int {
        switch location {
        case .file: 20_000
        case .postgres: 5_000
        }
    }

    func submit(from input: inout InputItems) throws -> Job {
        let batchItems = Self.batchItems(for: store.location)  // once: it is read per item
        var pending: [Data] = []
        var pendingBytes = 0
        var firstPendingLine: Int64 = alreadyStored + 1
        var oldestPending = Date()

        func flush() throws {
            guard !pending.isEmpty else { return }
            do {
                try store.itemsAppendIfOpen(job: jobID, firstLine: firstPendingLine, items: pending)
            } catch let error as StoreError where error.code == .jobState {
                if try store.jobFetch(jobID)?.state == .cancelled {
                    throw CLIError(
                        .jobCancelled,
                        "job \(jobID) was cancelled while its input was arriving; it keeps the \(firstPendingLine - 1) items stored before (batch retry \(jobID), then batch submit --resume \(jobID), runs the rest)")
                }
                throw error
            }
            firstPendingLine += Int64(pending.count)
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
        }

        var lastLine: Int64 = 0
        loop: while true {
            let event: InputItems.Event
            do {
                event = try input.next(waitingWork: !pending.isEmpty)
            } catch let tooLarge as InputItems.ItemTooLarge {
                try flush()
                let what = tooLarge.overArgumentLimit
                    ? "is over \(InputItems.argumentLimit) bytes, Linux's limit for one command argument (a per-item command gets the item as an argument; --stream feeds items on stdin instead)"
                    : "is over the item size limit (\(input.maxItemSize) bytes, --max-item-size)"
                throw CLIError(
                    .badInput,
                    "line \(tooLarge.line) of \(inputName) \(what); job \(jobID) keeps the \(tooLarge.line - 1) items before it and stays open: fix the input and run 'batch submit --resume \(jobID)', or 'batch cancel \(jobID)'")
            }
            switch event {
            case .item(let line, let data):
                lastLine = line
                if line <= alreadyStored {
                    if line == alreadyStored { try checkResumePoint(line: line, data: data) }
                    continue
                }
                if pending.isEmpty { oldestPending = Date() }
                pending.append(data)
                pendingBytes += data.count
                if pending.count >= batchItems || pendingBytes >= batchBytes
                    || Date().timeIntervalSince(oldestPending) >= maxDelay
                {
                    try flush()
                }
            case .idle:
                try flush()
            case .end:
                break loop
            }
        }
        try flush()
        if lastLine < alreadyStored {
            throw CLIError(
                .badInput,
                "\(inputName) has \(lastLine) items but job \(jobID) already stores \(alreadyStored): this is not the same input; the job stays open")
        }
        guard seals else {
            guard let job = try store.jobFetch(jobID) else { throw CLIError(.noSuchJob, "no job \(jobID)") }
            return job
        }
        return try store.jobSealIfOpen(jobID, now: Date())
    }

    /// A resumed input must be the one that was submitted: its last stored item
    /// must match.
    private func checkResumePoint(line: Int64, data: Data) throws {
        guard let stored = try store.itemFetch(job: jobID, line: line) else { return }
        guard stored == data else {
            throw CLIError(
                .badInput,
                "line \(line) of \(inputName) differs from the item job \(jobID) stored there: this is not the same input; the job stays open")
        }
    }
}

import Foundation

/// The store as a Swift program uses it: submit an `AsyncSequence` of items,
/// then iterate the results like Python's `imap` / `imap_unordered`, or wait
/// for all of them like `map_async().get()`.
///
/// ```swift
/// let store = try SQLiteStore(path: "/tmp/jobs.db")
/// let job = try await store.submit(lines, spec: JobSpec(command: ["true"], workingDirectory: "/", environment: []))
/// for try await result in store.results(of: job.id, order: .input) {
///     print(result.line, String(decoding: result.outcome.output, as: UTF8.self))
/// }
/// ```
extension BatchStore {
    /// Creates a job, stores the items as they arrive (in batches of
    /// `batchSize`, each one transaction, so workers start before the input
    /// ends) and seals the job when the sequence ends. Memory stays flat
    /// whatever the input's length. Returns the sealed (or already complete)
    /// job. If the sequence throws, the job stays open with what was stored.
    public func submit<Items: AsyncSequence>(_ items: Items, spec: JobSpec, batchSize: Int = 1000) async throws -> Job
    where Items.Element == Data {
        let job = try jobCreate(spec, now: Date())
        var batch: [Data] = []
        var nextLine: Int64 = 1
        for try await item in items {
            batch.append(item)
            if batch.count >= batchSize {
                try itemsAppendIfOpen(job: job.id, firstLine: nextLine, items: batch)
                nextLine += Int64(batch.count)
                batch.removeAll(keepingCapacity: true)
            }
        }
        try itemsAppendIfOpen(job: job.id, firstLine: nextLine, items: batch)
        return try jobSealIfOpen(job.id, now: Date())
    }

    /// The job's results as they are recorded: in input order (each as soon
    /// as it and every earlier one are done) or in completion order. The
    /// sequence ends when the job has ended and every recorded result was
    /// delivered; `from` skips that many entries (to resume).
    public func results(of job: JobID, order: ResultStream.Order, from: Int64 = 0) -> ResultSequence {
        ResultSequence(stream: ResultStream(store: self, job: job, order: order, from: from))
    }

    /// "Now" on the clock of the daemons that record results: the newest
    /// heartbeat, which a live daemon writes every second with its own clock.
    /// A reader whose clock differs (another host, a wrong clock) measures
    /// rates against the results' own clock this way; with no daemon it has
    /// only its own.
    public func daemonClock(fallback now: Date) throws -> Date {
        try daemonsList().map(\.heartbeatAt).max() ?? now
    }

    /// Items finished per second over the last minute (or since the job was
    /// created, if that is less): the rate `status` and the progress line
    /// show, measured on the daemons' clock (`daemonClock`).
    public func finishRate(of job: Job, now readerNow: Date) throws -> Double {
        let now = try daemonClock(fallback: readerNow)
        let window = max(1, min(60, now.timeIntervalSince(job.createdAt)))
        return Double(try resultsCount(job: job.id, finishedSince: now.addingTimeInterval(-window))) / window
    }

    /// Waits until the job has ended, then returns every result in input
    /// order (all in memory: for large jobs iterate `results(of:order:)`).
    public func waitForAll(_ job: JobID) async throws -> [ItemResult] {
        var all: [ItemResult] = []
        for try await result in results(of: job, order: .input) { all.append(result) }
        return all
    }
}

/// An `AsyncSequence` of a job's results, read from the store as they are
/// recorded (see `ResultStream` for the guarantees).
public struct ResultSequence: AsyncSequence, Sendable {
    public typealias Element = ItemResult
    let stream: ResultStream

    public struct AsyncIterator: AsyncIteratorProtocol {
        var stream: ResultStream
        var page: [ItemResult] = []
        var index = 0

        public mutating func next() async throws -> ItemResult? {
            while index >= page.count {
                guard let next = try await stream.next() else { return nil }
                page = next
                index = 0
            }
            defer { index += 1 }
            return page[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: stream) }
}

import Foundation

/// Follows a job's results as they are recorded, in input order (like
/// Python's `imap`) or in completion order (like `imap_unordered`), polling
/// the store.
///
/// The stream is a pure function of the store: completion order is recorded
/// with each result, so re-reading gives the same stream, and a follower that
/// was interrupted after `cursor` entries resumes with `cursor` and sees every
/// later entry exactly once.
public struct ResultStream: Sendable {
    public enum Order: Sendable {
        case input
        case completion
    }

    public let store: any BatchStore
    public let job: JobID
    public let order: Order
    /// Entries delivered so far (including any skipped at the start). In input
    /// order the entry number is the line number; in completion order it is
    /// the result's sequence number.
    public private(set) var cursor: Int64
    /// The job as last read, once the stream has ended.
    public private(set) var finalJob: Job?
    let pollInterval: ClosedRange<Double>
    let pageSize: Int
    /// Whether input-order pages must have no gap (false once the job ended early).
    private var contiguous = true
    /// When the last page was delivered, and whether results are flowing
    /// (the last page was short and came soon after the one before).
    private var lastDelivery: ContinuousClock.Instant?
    private var flowing = false
    /// Input order: the first line past a gap in the last page (an item
    /// still running holds back the chunks after it). Until the gap is
    /// filled, a look reads one row (has the gap's first line come?) and then
    /// only the gap's lines, not a page of results already seen: with two
    /// workers, every commit of the second woke the follower to read the
    /// same 512 rows again (25,000 rows read for 2,000 results).
    private var aheadLine: Int64?

    public init(
        store: any BatchStore, job: JobID, order: Order, from cursor: Int64 = 0,
        pollInterval: ClosedRange<Double> = 0.005...0.05, pageSize: Int = 512
    ) {
        self.store = store
        self.job = job
        self.order = order
        // No stream has more entries than this; a larger cursor (a typo, an
        // Int64.max) must not overflow when the next entry is computed.
        self.cursor = min(max(cursor, 0), Int64.max / 2)
        self.pollInterval = pollInterval
        self.pageSize = pageSize
    }

    /// How long a follower rides out a store that does not answer (a
    /// server restarting, a connection ended, a failover) before it gives up.
    public var unavailablePatience: TimeInterval = 300

    /// The next results, waiting for them; `nil` once the job has ended and
    /// every recorded entry was delivered (for a complete job: every item).
    /// Throws `StoreError(.jobNotFound)` when the job does not exist. A store
    /// that does not answer is asked again, with backoff, for up to
    /// `unavailablePatience`: the cursor has not moved, so no entry is lost
    /// or repeated.
    public mutating func next() async throws -> [ItemResult]? {
        var unavailableSince: Date?
        var backoff = 0.1
        while true {
            do {
                return try await nextOnce()
            } catch let error as StoreError where error.code == .unavailable {
                let since = unavailableSince ?? Date()
                unavailableSince = since
                guard Date().timeIntervalSince(since) < unavailablePatience else { throw error }
                try await Task.sleep(for: .seconds(backoff))
                backoff = min(backoff * 2, 5)
            }
        }
    }

    private mutating func nextOnce() async throws -> [ItemResult]? {
        var delay = pollInterval.lowerBound
        if flowing {
            // Results arrive one commit after another: let the next ones
            // gather for a moment rather than read them a few at a time. (Not
            // after a lone page: a one-item job's follower would wait for
            // nothing.)
            try await Task.sleep(for: .seconds(pollInterval.lowerBound))
        }
        while true {
            // Read before the queries: a commit after this point changes it, so a
            // wait for a change below can never miss one.
            let before = store.storageVersion()
            // While results flow, read only them; the job (a bigger read) only
            // when there are none, to know whether any will still come.
            let next = try fetchPage(contiguous: contiguous)
            if !next.isEmpty { return deliver(next) }
            // The job is read before the results: if it had ended then, the
            // results read next are all there will ever be.
            guard let job = try store.jobFetch(self.job) else {
                throw StoreError(.jobNotFound, "no job \(self.job)")
            }
            // A job that ended early (cancelled, halted) has gaps: deliver what there is.
            contiguous = job.state.isRunnable || job.state == .complete
            let page = try fetchPage(contiguous: contiguous)
            if !page.isEmpty { return deliver(page) }
            let stillDraining = job.isDraining ? try store.chunksLeasedExist(job: job.id) : false
            if job.state.isFinal && !stillDraining {
                finalJob = job
                return nil
            }
            // Nothing new: wait until the store says something was committed
            // (`storageWaitForChange`: inotify on a file, LISTEN on a server),
            // not for a poll interval: with polls of 5, 10, 20 ms a one-item
            // job's result waited 10 ms on average before its follower
            // looked. A draining job is read each time, with short polls: its
            // end is a chunk's.
            let seen = job.isDraining ? nil : before
            repeat {
                if let seen {
                    await Self.onThread { [store] in store.storageWaitForChange(from: seen, timeout: 5) }
                    try Task.checkCancellation()
                } else {
                    try await Task.sleep(for: .seconds(delay))
                    delay = min(delay * 2, pollInterval.upperBound)
                }
            } while seen != nil && store.storageVersion() == seen
        }
    }

    /// Runs a blocking wait on a thread of its own, not on one of the few
    /// threads that run every task of the process.
    static func onThread(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                body()
                continuation.resume()
            }
            thread.start()
        }
    }

    private mutating func deliver(_ page: [ItemResult]) -> [ItemResult] {
        let now = ContinuousClock.now
        flowing = page.count < pageSize && lastDelivery.map { now - $0 < .milliseconds(50) } == true
        lastDelivery = now
        cursor = order == .input ? page.last!.line : page.last!.sequence
        return page
    }

    private mutating func fetchPage(contiguous: Bool) throws -> [ItemResult] {
        switch order {
        case .completion:
            return try store.resultsBySequence(job: job, afterSequence: cursor, limit: pageSize)
        case .input:
            if let ahead = aheadLine, ahead <= cursor + 1 || !contiguous { aheadLine = nil }
            if aheadLine != nil {
                guard try store.resultsByLine(job: job, afterLine: cursor, limit: 1).first?.line == cursor + 1 else { return [] }
            }
            let limit = aheadLine.map { Int(min(Int64(pageSize), $0 - cursor - 1)) } ?? pageSize
            let page = try store.resultsByLine(job: job, afterLine: cursor, limit: limit)
            guard contiguous else { return page }
            // Only the run of lines with no gap: an item still running holds back later ones.
            var expected = cursor + 1
            var count = 0
            for result in page {
                guard result.line == expected else { break }
                expected += 1
                count += 1
            }
            if count < page.count { aheadLine = page[count].line }
            return Array(page.prefix(count))
        }
    }
}

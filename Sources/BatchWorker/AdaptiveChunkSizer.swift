import BatchStore
import Foundation
import Synchronization

/// Chooses how many items to claim at once for jobs with `--chunksize auto`.
///
/// It keeps a moving average of the time per item for each job (in this
/// daemon) and sizes a chunk to take about `targetChunkDuration`, so a claim
/// (one short transaction) stays a small fraction of the work. The first chunk
/// of a job is one item, since nothing is known yet; a chunk never takes more
/// than its share of the unclaimed items, so all workers stay busy.
///
/// At most `maximum` items (8,000) and, by the measured size of the job's
/// items, about `maximumBytes` of them (8 MiB): a chunk's items are read into
/// memory at once. In stream mode an item of `cat` takes about 3 µs, so a
/// chunk of 1,000 (the earlier cap) lasted 3 ms: each slot claimed a chunk
/// every few milliseconds, waiting behind the group commit for the write
/// lock each time. With 8,000, a million items ran 4-5% faster (measured in
/// turns); a chunk is still a few tens of milliseconds of such work.
public final class AdaptiveChunkSizer: Sendable {
    let workers: Int
    let targetChunkDuration: Double
    let maximum: Int
    let maximumBytes: Int
    private let secondsPerItem = Mutex<[JobID: Double]>([:])
    private let bytesPerItem = Mutex<[JobID: Double]>([:])

    public init(workers: Int, targetChunkDuration: Double = 0.25, maximum: Int = 8000, maximumBytes: Int = 8 << 20) {
        self.workers = max(1, workers)
        self.targetChunkDuration = targetChunkDuration
        self.maximum = maximum
        self.maximumBytes = maximumBytes
    }

    public func size(for job: Job, unclaimed: Int64) -> Int {
        if case .fixed(let n) = job.spec.chunkSize { return n }
        guard let grouping = job.spec.grouping else { return sizeByTime(for: job, unclaimed: unclaimed, maximum: maximum) ?? 1 }
        // A group never spans chunks: a chunk holds whole groups of `-n N`
        // (first one group, then as many as take about the target time), and
        // for `-X` enough items to fill several command lines.
        let unit = grouping.chunkUnit
        let size = sizeByTime(for: job, unclaimed: unclaimed, maximum: max(maximum, unit * 10)) ?? unit
        return max(unit, (size + unit - 1) / unit * unit)
    }

    private func sizeByTime(for job: Job, unclaimed: Int64, maximum: Int) -> Int? {
        guard let average = secondsPerItem.withLock({ $0[job.id] }) else { return nil }
        let byTime = average > 0 ? Int(min(Double(maximum), targetChunkDuration / average)) : maximum
        let bytes = bytesPerItem.withLock { $0[job.id] } ?? 0
        let bySize = bytes > 0 ? Int(min(Double(maximum), Double(maximumBytes) / bytes)) : maximum
        let share = Int((unclaimed + Int64(workers) - 1) / Int64(workers))
        return max(1, min(byTime, bySize, share))
    }

    /// How long `items` items of `job` are expected to take, from its
    /// measured time per item; `nil` before anything was measured.
    public func expectedSeconds(for job: JobID, items: Int64) -> Double? {
        secondsPerItem.withLock { $0[job] }.map { $0 * Double(items) }
    }

    /// Records that an item of `job` took `seconds` (and, when known, that
    /// its input was `bytes` long: items of a chunk, on average).
    public func observe(job: JobID, seconds: Double, bytes: Double? = nil) {
        Self.average(seconds, into: secondsPerItem, for: job)
        if let bytes { Self.average(bytes, into: bytesPerItem, for: job) }
    }

    private static func average(_ value: Double, into averages: borrowing Mutex<[JobID: Double]>, for job: JobID) {
        averages.withLock { averages in
            if let old = averages[job] {
                averages[job] = old * 0.8 + value * 0.2
            } else {
                if averages.count > 1000 { averages.removeAll() }  // bounded: old jobs fall out
                averages[job] = value
            }
        }
    }
}

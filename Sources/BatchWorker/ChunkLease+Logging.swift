import BatchStore
import Logging

extension ChunkLease {
    /// The fields every log line about this lease carries (`job`, `chunk`,
    /// `lines`): what `batchd --log-format json` lets a log shipper pick out.
    var logMetadata: Logger.Metadata {
        ["job": "\(job.id)", "chunk": "\(chunkID)", "lines": "\(firstLine)-\(lastLine)"]
    }
}

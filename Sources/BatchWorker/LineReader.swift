import Foundation
import Subprocess

/// Splits a process's output into records (lines, or NUL-terminated records),
/// holding at most one read buffer and one record.
struct LineReader {
    struct RecordTooLong: Error {}

    private var iterator: SubprocessOutputSequence.AsyncIterator
    private let separator: UInt8
    private let maxRecord: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var scanned = 0
    private var ended = false

    init(_ sequence: SubprocessOutputSequence, separator: UInt8, maxRecord: Int) {
        iterator = sequence.makeAsyncIterator()
        self.separator = separator
        self.maxRecord = maxRecord
    }

    /// Whether a complete record is already buffered (reading it will not wait).
    mutating func hasBufferedRecord() -> Bool {
        if let found = buffer[scanned...].firstIndex(of: separator) {
            scanned = found
            return true
        }
        scanned = buffer.count
        return false
    }

    /// The next record without its separator; `nil` at the end of the output.
    /// An unterminated last record is returned as it is. With `terminated`,
    /// the record keeps its separator (an unterminated last one gets one):
    /// stream mode stores answers so, and appending the separator to each
    /// copy showed in the daemon's profile.
    mutating func next(terminated: Bool = false) async throws -> Data? {
        while true {
            if let found = buffer[max(start, scanned)...].firstIndex(of: separator) {
                let record = Data(buffer[start..<(terminated ? found + 1 : found)])
                start = found + 1
                scanned = start
                if start > 1 << 16 {
                    buffer.removeSubrange(0..<start)
                    start = 0
                    scanned = 0
                }
                return record
            }
            scanned = buffer.count
            if buffer.count - start > maxRecord { throw RecordTooLong() }
            if ended {
                guard start < buffer.count else { return nil }
                var record = Data(buffer[start...])
                start = buffer.count
                if terminated { record.append(separator) }
                return record
            }
            guard let chunk = try await iterator.next() else {
                ended = true
                continue
            }
            chunk.withUnsafeBytes { buffer.append(contentsOf: $0) }
        }
    }
}

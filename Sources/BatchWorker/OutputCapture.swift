import Foundation
import Subprocess

/// Collects what a stream-mode process writes on stderr, within bounds, so
/// one process can never make the daemon's memory grow without limit.
enum OutputCapture {
    /// The last `keep` bytes.
    static func tail(_ sequence: SubprocessOutputSequence, keep: Int) async throws -> Data {
        var data = Data()
        for try await buffer in sequence {
            buffer.withUnsafeBytes { data.append(contentsOf: $0) }
            if data.count > 2 * keep { data = Data(data.suffix(keep)) }
        }
        return data.count > keep ? Data(data.suffix(keep)) : data
    }
}

import Foundation
import Subprocess

/// Collects what a command writes, within bounds, so one item can never make
/// the daemon's memory grow without limit.
struct OutputCapture: Sendable {
    var data: Data
    var exceeded: Bool

    /// Everything up to `limit` bytes; past it, calls `onExceeded` once and
    /// keeps draining (without storing) until the pipe closes.
    static func collect(
        _ sequence: SubprocessOutputSequence, limit: Int, onExceeded: @Sendable () -> Void
    ) async throws -> OutputCapture {
        var capture = OutputCapture(data: Data(), exceeded: false)
        for try await buffer in sequence {
            if capture.exceeded { continue }
            buffer.withUnsafeBytes { bytes in
                let room = limit - capture.data.count
                if bytes.count <= room {
                    capture.data.append(contentsOf: bytes)
                } else {
                    capture.data.append(contentsOf: bytes.prefix(room))
                    capture.exceeded = true
                }
            }
            if capture.exceeded { onExceeded() }
        }
        return capture
    }

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

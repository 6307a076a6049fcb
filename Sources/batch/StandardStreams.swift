import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum StandardError {
    static func line(_ text: String) {
        StatusLine.line(text)
    }
}

/// Writes all bytes to a file descriptor, retrying short writes and EINTR.
/// A closed reader (EPIPE) ends the process quietly, as `cat` would.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { exit(141) }
                return
            }
            offset += written
        }
    }
}

/// A buffered standard output: results are written in batches, flushed each
/// time the follower has caught up, so lines leave as soon as they are known.
struct OutputBuffer {
    let fd: Int32
    private var bytes: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        bytes.reserveCapacity(1 << 16)
    }

    mutating func append(_ data: Data) {
        bytes.append(contentsOf: data)
        if bytes.count >= 1 << 16 { flush() }
    }

    mutating func append(_ data: [UInt8]) {
        bytes.append(contentsOf: data)
        if bytes.count >= 1 << 16 { flush() }
    }

    mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        if bytes.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        guard !bytes.isEmpty else { return }
        // On a terminal, stdout shares the screen with the progress line.
        StatusLine.clear()
        writeAll(fd, bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}

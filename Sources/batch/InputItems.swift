import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Splits a file descriptor's bytes into items (lines, or NUL-separated
/// records) without ever holding more than one read buffer and one item.
///
/// A last item without a trailing separator is still an item; an empty input
/// has none. Items are bytes: nothing is decoded.
struct InputItems {
    enum Event {
        case item(line: Int64, data: Data)
        /// The reader has nothing more for now: a good moment to flush.
        case idle
        case end
    }

    struct ItemTooLarge: Error {
        var line: Int64
        var size: Int
        /// Over the limit of one command argument, not over `--max-item-size`.
        var overArgumentLimit: Bool
    }

    /// Linux's limit on one argument (MAX_ARG_STRLEN, 32 pages, with its
    /// terminating NUL): a per-item command gets the item as an argument, so
    /// a longer item could only ever fail with E2BIG.
    static let argumentLimit = 128 * 1024 - 1

    let fd: Int32
    let separator: UInt8
    let maxItemSize: Int
    /// The largest item accepted: `maxItemSize`, or less for per-item jobs.
    let limit: Int
    let limitedByArguments: Bool
    /// With pending work, how long to wait for more input before reporting `.idle`.
    let idleTimeoutMilliseconds: Int32 = 20
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var start = 0
    private var end = 0
    private var partial = Data()
    private var line: Int64 = 0
    private var finished = false
    /// Items given as arguments (after `:::`) rather than read from `fd`.
    private var listed: [[UInt8]]?

    init(fd: Int32, separator: UInt8, maxItemSize: Int, passedAsArgument: Bool) {
        self.fd = fd
        self.separator = separator
        self.maxItemSize = maxItemSize
        limitedByArguments = passedAsArgument && Self.argumentLimit < maxItemSize
        limit = limitedByArguments ? Self.argumentLimit : maxItemSize
    }

    /// Items given as arguments: each one is an item, whatever bytes it holds.
    init(listed: [[UInt8]], maxItemSize: Int, passedAsArgument: Bool) {
        self.init(fd: -1, separator: 10, maxItemSize: maxItemSize, passedAsArgument: passedAsArgument)
        self.listed = listed
    }

    /// The next event. `waitingWork` says whether the caller holds items it
    /// would flush if the input paused.
    mutating func next(waitingWork: Bool) throws -> Event {
        if listed != nil {
            guard Int(line) < listed!.count else { return .end }
            let item = listed![Int(line)]
            line += 1
            if item.count > limit { throw ItemTooLarge(line: line, size: item.count, overArgumentLimit: limitedByArguments) }
            return .item(line: line, data: Data(item))
        }
        while true {
            if start < end {
                let found = buffer[start..<end].firstIndex(of: separator)
                let stop = found ?? end
                let piece = stop - start
                if partial.count + piece > limit {
                    throw ItemTooLarge(line: line + 1, size: partial.count + piece, overArgumentLimit: limitedByArguments)
                }
                if let found {
                    var data = partial
                    data.append(contentsOf: buffer[start..<found])
                    partial = Data()
                    start = found + 1
                    line += 1
                    return .item(line: line, data: data)
                }
                partial.append(contentsOf: buffer[start..<end])
                start = end
            }
            if finished {
                if !partial.isEmpty {
                    line += 1
                    let data = partial
                    partial = Data()
                    return .item(line: line, data: data)
                }
                return .end
            }
            if waitingWork {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, idleTimeoutMilliseconds)
                if ready == 0 { return .idle }
            }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CLIError(.noInput, "cannot read the input: \(String(cString: strerror(errno)))")
            }
            start = 0
            end = count
            if count == 0 { finished = true }
        }
    }
}

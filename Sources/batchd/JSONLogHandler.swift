import Foundation
import Logging
import Synchronization

/// `batchd --log-format json`: one JSON object per line on stderr, for log
/// shippers: `time` (RFC 3339, UTC, milliseconds), `level`, `message`,
/// `source` (the module), then every metadata field (`job`, `chunk`,
/// `lines`, `pid`, …) as a string. Strings are escaped by Foundation's JSON
/// encoder, so an item's bytes in a message cannot break a line.
struct JSONLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    let label: String

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// One line at a time: lines of several threads never interleave.
    private static let output = Mutex(FileHandle.standardError)

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    static func quoted(_ text: String) -> String {
        (try? encoder.encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("time", Self.timestamp(Date())), ("level", event.level.rawValue), ("message", "\(event.message)"),
            ("source", event.source),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) where !["time", "level", "message", "source"].contains(key) {
            fields.append((key, "\(value)"))
        }
        let line = "{" + fields.map { "\(Self.quoted($0.0)):\(Self.quoted($0.1))" }.joined(separator: ",") + "}\n"
        Self.output.withLock { $0.write(Data(line.utf8)) }
    }
}

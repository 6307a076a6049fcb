import BatchStore
import Foundation

/// Prints results: raw output bytes (text mode) or one JSON object per item.
///
/// Text mode prints each successful item's output exactly as the command
/// wrote it, and one line on stderr for each failed item. JSON mode prints
/// every item, failed ones too:
/// `{"attempts":1,"cursor":2,"exit_status":0,"line":2,"output":"7\n","signal":null,"status":"succeeded"}`
/// with `output_base64` instead of `output` when the output is not UTF-8, and
/// `error` (the tail of stderr) and `reason` for failed items.
struct ResultPrinter {
    let json: Bool
    let order: ResultStream.Order
    var out = OutputBuffer(fd: 1)
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(json: Bool, order: ResultStream.Order) {
        self.json = json
        self.order = order
    }

    struct Record: Encodable {
        var line: Int64
        var cursor: Int64
        var status: String
        var exitStatus: Int32?
        var signal: Int32?
        var output: String?
        var outputBase64: String?
        var error: String?
        var reason: String?
        var attempts: Int

        enum CodingKeys: String, CodingKey {
            case line, cursor, status, signal, output, error, reason, attempts
            case exitStatus = "exit_status"
            case outputBase64 = "output_base64"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(line, forKey: .line)
            try container.encode(cursor, forKey: .cursor)
            try container.encode(status, forKey: .status)
            try container.encode(exitStatus, forKey: .exitStatus)
            try container.encode(signal, forKey: .signal)
            try container.encodeIfPresent(output, forKey: .output)
            try container.encodeIfPresent(outputBase64, forKey: .outputBase64)
            try container.encodeIfPresent(error, forKey: .error)
            try container.encodeIfPresent(reason, forKey: .reason)
            try container.encode(attempts, forKey: .attempts)
        }
    }

    mutating func print(_ result: ItemResult) {
        let outcome = result.outcome
        if json {
            let text = String(validating: outcome.output, as: UTF8.self)
            let failed = outcome.status == .failed
            let record = Record(
                line: result.line, cursor: order == .input ? result.line : result.sequence,
                status: outcome.status.rawValue, exitStatus: outcome.exitStatus, signal: outcome.signal,
                output: text, outputBase64: text == nil ? outcome.output.base64EncodedString() : nil,
                error: failed ? String(decoding: outcome.errorOutput, as: UTF8.self) : nil,
                reason: outcome.reason, attempts: result.attempts)
            if let encoded = try? encoder.encode(record) {
                out.append(encoded)
                out.append("\n")
            }
            return
        }
        if outcome.status == .succeeded {
            out.append(outcome.output)
        } else {
            out.flush()
            StandardError.line("batch: line \(result.line) failed: \(Self.describeFailure(outcome))")
        }
    }

    mutating func flush() { out.flush() }

    /// "exit status 3: <last line of stderr>", "killed by signal 9", ...
    static func describeFailure(_ outcome: ItemOutcome) -> String {
        var text: String
        if let reason = outcome.reason {
            text = reason
        } else if let exit = outcome.exitStatus {
            text = "exit status \(exit)"
        } else if let signal = outcome.signal {
            text = "killed by signal \(signal)"
        } else {
            text = "failed"
        }
        let lastLine = String(decoding: outcome.errorOutput, as: UTF8.self)
            .split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        if !lastLine.isEmpty, lastLine != outcome.reason {
            text += ": " + (lastLine.count > 300 ? String(lastLine.suffix(300)) : lastLine)
        }
        return text
    }
}

import BatchStore
import Foundation

/// Prints results: raw output bytes (text mode) or one JSON object per item,
/// and, with `--joblog`, one line per run in GNU parallel's joblog format.
///
/// Text mode prints each successful item's output exactly as the command
/// wrote it (with `--tag`, each line prefixed by the item and a tab), and one
/// line on stderr for each failed run. JSON mode prints every item, failed
/// ones too:
/// `{"attempts":1,"cursor":2,"exit_status":0,"input":"5","line":2,"output":"7\n","signal":null,"status":"succeeded"}`
/// with `output_base64` (`input_base64`) instead of `output` (`input`) when
/// it is not UTF-8, `error` (the tail of stderr) and `reason` for failed
/// items, and `group` (`[first, last]`) for an item run in a group (`-n`, `-X`).
struct ResultPrinter {
    let json: Bool
    let order: ResultStream.Order
    let tag: Bool
    let joblog: Joblog?
    var out = OutputBuffer(fd: 1)
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(json: Bool, order: ResultStream.Order, tag: Bool = false, joblog: Joblog? = nil) {
        self.json = json
        self.order = order
        self.tag = tag
        self.joblog = joblog
    }

    /// Whether `print` needs the items' inputs.
    var needsInput: Bool { json || tag || joblog != nil }

    /// The lines whose inputs printing `page` needs: its own, and for `--tag`
    /// and `--joblog` those of the groups it starts.
    func linesNeeded(for page: [ItemResult]) -> [Int64] {
        guard needsInput else { return [] }
        var lines: [Int64] = []
        for result in page {
            if let group = result.outcome.group, group.lowerBound == result.line, tag || joblog != nil {
                lines.append(contentsOf: group)
            } else {
                lines.append(result.line)
            }
        }
        return lines
    }

    struct Record: Encodable {
        var line: Int64
        var cursor: Int64
        var status: String
        var exitStatus: Int32?
        var signal: Int32?
        var output: String?
        var outputBase64: String?
        var input: String?
        var inputBase64: String?
        var error: String?
        var reason: String?
        var attempts: Int
        var group: [Int64]?

        enum CodingKeys: String, CodingKey {
            case line, cursor, status, signal, output, input, error, reason, attempts, group
            case exitStatus = "exit_status"
            case outputBase64 = "output_base64"
            case inputBase64 = "input_base64"
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
            try container.encodeIfPresent(input, forKey: .input)
            try container.encodeIfPresent(inputBase64, forKey: .inputBase64)
            try container.encodeIfPresent(error, forKey: .error)
            try container.encodeIfPresent(reason, forKey: .reason)
            try container.encode(attempts, forKey: .attempts)
            try container.encodeIfPresent(group, forKey: .group)
        }
    }

    mutating func print(_ result: ItemResult, inputs: [Int64: Data] = [:]) {
        let outcome = result.outcome
        let startsRun = outcome.group.map { $0.lowerBound == result.line } ?? true
        let runLines = outcome.group ?? result.line...result.line
        if startsRun, let joblog {
            joblog.write(result, inputs: runLines.map { inputs[$0] ?? Data() })
        }
        if json {
            out.append(jsonLine(result, input: inputs[result.line]))
            return
        }
        if outcome.status == .succeeded {
            if tag, startsRun, !outcome.output.isEmpty {
                let label = Data(runLines.map { inputs[$0] ?? Data() }.joined(separator: Data(" ".utf8)))
                out.append(Self.tagged(outcome.output, with: label))
            } else {
                out.append(outcome.output)
            }
        } else if startsRun {
            out.flush()
            let lines = runLines.count > 1 ? "lines \(runLines.lowerBound)-\(runLines.upperBound) (one run) failed" : "line \(result.line) failed"
            StandardError.line("batch: \(lines): \(Self.describeFailure(outcome))")
        }
    }

    /// One JSON record and its newline.
    func jsonLine(_ result: ItemResult, input: Data?) -> Data {
        let outcome = result.outcome
        let text = String(validating: outcome.output, as: UTF8.self)
        let inputText = input.flatMap { String(validating: $0, as: UTF8.self) }
        let failed = outcome.status == .failed
        let record = Record(
            line: result.line, cursor: order == .input ? result.line : result.sequence,
            status: outcome.status.rawValue, exitStatus: outcome.exitStatus, signal: outcome.signal,
            output: text, outputBase64: text == nil ? outcome.output.base64EncodedString() : nil,
            input: inputText, inputBase64: input != nil && inputText == nil ? input!.base64EncodedString() : nil,
            error: failed ? String(decoding: outcome.errorOutput, as: UTF8.self) : nil,
            reason: outcome.reason, attempts: result.attempts,
            group: outcome.group.map { [$0.lowerBound, $0.upperBound] })
        guard var encoded = try? encoder.encode(record) else { return Data() }
        encoded.append(10)
        return encoded
    }

    /// Each line of `output` with `label` and a tab before it (GNU parallel's `--tag`).
    static func tagged(_ output: Data, with label: Data) -> Data {
        var result = Data()
        result.reserveCapacity(output.count + label.count + 1)
        var atLineStart = true
        for byte in output {
            if atLineStart {
                result.append(label)
                result.append(9)
            }
            result.append(byte)
            atLineStart = byte == 10
        }
        return result
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

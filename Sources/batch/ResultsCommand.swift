import ArgumentParser
import BatchStore
import Foundation

struct ResultsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "results",
        abstract: "Export a job's recorded results, in input order, without waiting.",
        discussion: """
            text: each successful output as the command wrote it (like 'batch wait', but only what is \
            recorded now; a line on stderr counts the failed items left out); with --failed, the failed \
            items' inputs, one per line. ndjson: one JSON object per item, as 'follow --json' prints, \
            input included. csv: a header, then line,status,exit_status,signal,attempts,reason,output,input,stderr; \
            a value that is not UTF-8 is written as base64: followed by its base64.

            Examples:
              batch results 7 --format csv > results.csv
              batch results 7 --failed --format ndjson

            \(ExitStatus.helpText)
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, ndjson, csv
    }

    @OptionGroup var store: StoreOptions

    @Option(help: "text, ndjson or csv.")
    var format: Format = .text

    @Flag(help: "Only the failed items (in text format: their inputs, one per line, ready to be run again).")
    var failed = false

    @OptionGroup var records: RecordOptions

    @Argument(help: "The job id.")
    var job: String

    func validate() throws { _ = try parseJobID(job) }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            let id = try parseJobID(job)
            guard let found = try db.jobFetch(id) else { throw CLIError(.noSuchJob, "no job \(id)") }
            var printer = try records.printer(json: format == .ndjson, order: .input, job: found)
            var out = OutputBuffer(fd: 1)
            if format == .csv { out.append("line,status,exit_status,signal,attempts,reason,output,input,stderr\n") }
            var after: Int64 = 0
            var leftOut = 0
            while true {
                let page = try db.resultsByLine(job: id, afterLine: after, limit: 1000)
                guard let last = page.last else { break }
                after = last.line
                let shown = page.filter { !failed || $0.outcome.status == .failed }
                var lines = printer.linesNeeded(for: shown)
                if format == .csv || (format == .text && failed) { lines = shown.map(\.line) }
                let inputs = lines.isEmpty ? [:] : try db.itemsFetch(job: id, lines: lines)
                for result in shown {
                    switch format {
                    case .text where failed:
                        // The failed items themselves, one per line: input for another run.
                        out.append(inputs[result.line] ?? Data())
                        out.append([found.spec.nulSeparated ? 0 : 10])
                    case .text:
                        if result.outcome.status == .succeeded {
                            printer.print(result, inputs: inputs)
                        } else {
                            leftOut += 1
                        }
                    case .ndjson:
                        printer.print(result, inputs: inputs)
                    case .csv:
                        out.append(Self.csvRow(result, input: inputs[result.line] ?? Data()))
                    }
                }
                printer.flush()
                out.flush()
            }
            printer.flush()
            out.flush()
            if leftOut > 0 {
                StandardError.line("batch: job \(id): \(leftOut) failed item(s) are not in this output ('batch results \(id) --failed' lists them)")
            }
        }
    }

    static func csvRow(_ result: ItemResult, input: Data) -> String {
        let outcome = result.outcome
        func text(_ data: Data) -> String { String(validating: data, as: UTF8.self) ?? "base64:" + data.base64EncodedString() }
        let fields = [
            String(result.line), outcome.status.rawValue, outcome.exitStatus.map(String.init) ?? "",
            outcome.signal.map(String.init) ?? "", String(result.attempts), outcome.reason ?? "", text(outcome.output),
            text(input), outcome.status == .failed ? text(outcome.errorOutput) : "",
        ]
        return fields.map(csvField).joined(separator: ",") + "\n"
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show one item: its input, outcome, attempts and stderr.",
        discussion: """
            Example:
              batch logs 7 42

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: "The job id.")
    var job: String

    @Argument(help: "The item's input line number.")
    var line: Int64

    func validate() throws {
        _ = try parseJobID(job)
        guard line >= 1 else { throw ValidationError("line numbers start at 1, not \(line)") }
    }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            let id = try parseJobID(job)
            guard let found = try db.jobFetch(id) else { throw CLIError(.noSuchJob, "no job \(id)") }
            guard let input = try db.itemFetch(job: id, line: line) else {
                throw CLIError(.noSuchJob, "job \(id) has no line \(line) (it has \(found.itemCount) items)")
            }
            var out = OutputBuffer(fd: 1)
            out.append("job \(id) line \(line)\n  input:    ")
            out.append(input)
            out.append("\n")
            guard let result = try db.resultsByLine(job: id, afterLine: line - 1, limit: 1).first, result.line == line else {
                out.append("  status:   pending (no result yet)\n")
                out.flush()
                return
            }
            let outcome = result.outcome
            out.append("  status:   \(outcome.status.rawValue)\(outcome.status == .failed ? " (\(ResultPrinter.describeFailure(outcome)))" : "")\n")
            out.append("  attempts: \(result.attempts)\n")
            out.append(String(format: "  runtime:  %.3f s\n", outcome.duration))
            if !outcome.errorOutput.isEmpty {
                out.append("  stderr:\n")
                out.append(outcome.errorOutput)
                if outcome.errorOutput.last != 10 { out.append("\n") }
            }
            out.flush()
        }
    }
}

import BatchStore
import Foundation

/// `--dry-run`: prints the command line each run would get, one per line,
/// quoted so a POSIX shell reads it back as the same arguments (GNU
/// parallel's `--dry-run`), and stores nothing. Built by the same
/// `CommandLineBuilder` the daemons use; `{%}` shows as 1.
struct DryRun {
    let options: SubmitOptions

    func run(fd: Int32, inputName: String) throws {
        let spec = options.jobSpec()
        var out = OutputBuffer(fd: 1)
        if spec.stream {
            out.append(CommandLineBuilder.shellLine(spec.argumentBytes))
            out.append("\n")
            out.flush()
            return
        }
        let builder = CommandLineBuilder(spec: spec)
        var items = options.inputItems(fd: fd, separator: spec.nulSeparated ? 0 : 10, passedAsArgument: true)
        let unit = spec.grouping?.chunkUnit ?? 1
        var pending: [CommandLineBuilder.Item] = []

        func printRuns(all: Bool) {
            var start = pending.startIndex
            while start < pending.endIndex, all || pending.endIndex - start >= unit {
                let count = spec.grouping.map { builder.groupCount(pending[start...], grouping: $0) } ?? 1
                out.append(CommandLineBuilder.shellLine(builder.argv(for: Array(pending[start..<(start + count)]))))
                out.append("\n")
                start += count
            }
            pending.removeFirst(start - pending.startIndex)
            out.flush()
        }
        while true {
            let event: InputItems.Event
            do {
                event = try items.next(waitingWork: false)
            } catch let tooLarge as InputItems.ItemTooLarge {
                printRuns(all: true)
                throw CLIError(.badInput, "line \(tooLarge.line) of \(inputName) is over the size limit for one item (\(items.limit) bytes)")
            }
            switch event {
            case .item(let line, let data):
                pending.append(.init(Array(data), line: line))
                if pending.count >= unit { printRuns(all: false) }
            case .idle:
                continue
            case .end:
                printRuns(all: true)
                return
            }
        }
    }
}

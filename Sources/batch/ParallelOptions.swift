import ArgumentParser
import BatchStore

/// The options GNU parallel and xargs users bring along, for `submit` and
/// `run`: per-job parallelism, several items per run, another replacement
/// string, a shell, columns, and a dry run.
struct ParallelOptions: ParsableArguments {
    @Option(
        name: [.customShort("j", allowingJoined: true), .customLong("jobs")],
        help: ArgumentHelp("At most N of this job's commands run at once, across every daemon serving the store; N%: that share of the daemons' workers (default: as many as they have).", valueName: "n"))
    var jobs: String?

    @Option(
        name: [.customShort("n", allowingJoined: true), .customLong("max-args")],
        help: ArgumentHelp("Give up to N consecutive items to one run of the command (like xargs -n): appended, or where {} stands. Each item still gets its own result; see 'Several items per run' in the README.", valueName: "n"))
    var maxArgs: Int?

    @Flag(name: .customShort("X"), help: "Give as many consecutive items to one run as fit the command line (like GNU parallel -X).")
    var fillCommandLine = false

    @Option(name: .customShort("I", allowingJoined: true), help: ArgumentHelp("Use STR instead of {} as the replacement string for the item (like xargs -I and GNU parallel -I).", valueName: "str"))
    var replace: String?

    @Flag(help: "Run the command line through /bin/sh -c, so it may hold pipes and redirections; each replacement is quoted for the shell, and without one the item is appended: batch run --shell -- 'gzip < {} > {}.gz'.")
    var shell = false

    @Option(help: ArgumentHelp("Split each item into columns at this regular expression (POSIX extended, with \\t \\s \\d \\w): {1}, {2}, … stand for them.", valueName: "regex"))
    var colsep: String?

    @Flag(name: .customLong("dry-run"), help: "Print the command lines that would run, one per line, quoted so that a shell reads them back, and store nothing.")
    var dryRun = false

    var runningLimit: RunningLimit? { jobs.flatMap(RunningLimit.init(parsing:)) }

    var grouping: ItemGrouping? {
        if fillCommandLine { return .fitCommandLine }
        return maxArgs.map { .items($0) }
    }

    func validate(stream: Bool) throws {
        if let jobs, RunningLimit(parsing: jobs) == nil {
            throw ValidationError("-j/--jobs takes a number of commands (1 or more) or a percentage of the workers like 50%, not '\(jobs)'")
        }
        if let maxArgs, maxArgs < 1 {
            throw ValidationError("-n/--max-args takes 1 or more, not \(maxArgs)")
        }
        if maxArgs != nil && fillCommandLine {
            throw ValidationError("-n and -X both say how many items one run takes: give one of them")
        }
        if stream && (maxArgs != nil || fillCommandLine) {
            throw ValidationError("-n and -X group items into runs of a command; --stream feeds every item to one long-lived process already")
        }
        if let replace, replace.isEmpty { throw ValidationError("-I takes a non-empty replacement string") }
        if let colsep {
            do {
                _ = try ColumnSplitter(pattern: colsep)
            } catch {
                throw ValidationError("--colsep takes a regular expression; '\(colsep)' is not one: \(error)")
            }
        }
    }

    /// The command that runs: with `--shell`, `/bin/sh -c` and the words
    /// joined by spaces (with the item appended when no replacement string
    /// is in them).
    func command(_ words: [[UInt8]]) -> [[UInt8]] {
        guard shell else { return words }
        var script = Array(words.joined(separator: [UInt8(ascii: " ")]))
        let token = replace.map { Array($0.utf8) }
        if !CommandLineBuilder(arguments: [script], itemToken: token).usesReplacements {
            script += [UInt8(ascii: " ")] + (token ?? Array("{}".utf8))
        }
        return [Array("/bin/sh".utf8), Array("-c".utf8), script]
    }
}

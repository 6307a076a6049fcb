import ArgumentParser
import BatchStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What `submit` and `run` share: where items come from, and the command.
struct SubmitOptions: ParsableArguments {
    @Flag(name: [.customShort("0"), .customLong("null")], help: "Items are separated by NUL bytes instead of newlines.")
    var null = false

    @Option(name: .customLong("input"), help: "Read items from this file instead of standard input.")
    var input: String?

    @Option(help: "Items per claimed chunk: a positive number, or auto (sized from the measured time per item).")
    var chunksize: String = "auto"

    @Option(name: .customLong("max-item-size"), help: "The largest item accepted, in bytes (suffixes K, M, G); a larger one stops the submission.")
    var maxItemSize: String = "1M"

    @Flag(help: "Stream mode: start one long-lived process per worker and feed it the items on its stdin; it must write exactly one output line per item, in order.")
    var stream = false

    @Option(help: "Run a failed item again up to N times (exponential backoff with jitter).")
    var retries: Int = 0

    @Option(name: .customLong("retry-delay"), help: "The delay before the first retry; each next one doubles it (jittered, at most 5m).")
    var retryDelay: String = "1s"

    @Option(help: "Kill an item's command (its whole process group) after this long: a duration (30s, 5m) or a percentage of the median runtime of the items that succeeded so far (300%).")
    var timeout: String?

    @Option(help: "Stop the job when items fail, like GNU parallel: now,fail=N (kill running items) or soon,fail=N (let them finish); N may be a percentage (fail=10%).")
    var halt: String?

    @Option(name: .customLong("max-output"), help: "The largest output one item may produce (suffixes K, M, G); past it the command is stopped and the item fails.")
    var maxOutput: String = "16M"

    @Option(name: .customLong("env"), help: ArgumentHelp(
        "Also store this environment variable with the job (a name or a glob, such as 'AWS_*'; repeatable). Only these and PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*, TZ, TMPDIR, PYTHONPATH, VIRTUAL_ENV and CONDA_* are stored and given to the command.",
        valueName: "name"))
    var env: [String] = []

    @Flag(name: .customLong("env-all"), help: "Store the whole environment with the job, secrets included (anyone who can read the job can read them).")
    var envAll = false

    @Flag(name: .customLong("no-check"), help: "Do not check at submit that the command can be found here (for a command that only exists where the daemons run).")
    var noCheck = false

    @OptionGroup(title: "Options GNU parallel and xargs users know")
    var parallel: ParallelOptions

    @OptionGroup(title: "Sharing the workers with other jobs")
    var scheduling: SchedulingOptions

    @Argument(
        parsing: .captureForPassthrough,
        help: ArgumentHelp(
            "The command to run for each item, after --. Each {} is replaced by the item; without {}, the item is the last argument. After ':::', the items themselves instead of standard input (like GNU parallel).",
            valueName: "-- command"))
    var command: [String] = []

    /// The command and any `::: items`, without the `--` that separates them
    /// from batch's options.
    var words: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    /// Where `:::` is in `words`, if the items are given as arguments.
    var itemsMarker: Int? { words.firstIndex(of: ":::") }

    /// The command without the `--` that separates it from batch's options.
    var commandLine: [String] { Array(words.prefix(itemsMarker ?? words.count)) }

    /// The items given after `:::`, as bytes; `nil` when they come from the input.
    var argumentItems: [[UInt8]]? {
        guard let marker = itemsMarker else { return nil }
        return Array(rawWords().dropFirst(marker + 1))
    }

    var chunkSizePolicy: ChunkSizePolicy { ChunkSizePolicy(parsing: chunksize) ?? .auto }

    var maxItemBytes: Int { Self.parseSize(maxItemSize) ?? 1 << 20 }

    func validate() throws {
        guard ChunkSizePolicy(parsing: chunksize) != nil else {
            throw ValidationError("--chunksize takes a positive number or 'auto', not '\(chunksize)'")
        }
        guard let size = Self.parseSize(maxItemSize), size > 0 else {
            throw ValidationError("--max-item-size takes a positive size in bytes like 4096, 64K or 1M, not '\(maxItemSize)'")
        }
        _ = size
        guard retries >= 0 else { throw ValidationError("--retries takes 0 or more, not \(retries)") }
        guard DurationText.seconds(retryDelay) != nil else {
            throw ValidationError("--retry-delay takes a duration like 500ms, 2s or 1m (at most 100 years), not '\(retryDelay)'")
        }
        if let timeout, ItemTimeout(parsing: timeout) == nil {
            throw ValidationError("--timeout takes a duration like 30s or 5m (at most 100 years), or a percentage like 300% (at most 1000000%), not '\(timeout)'")
        }
        if let halt, HaltPolicy(parsing: halt) == nil {
            throw ValidationError("--halt takes now,fail=N or soon,fail=N (N a count or a percentage like 10%), not '\(halt)'")
        }
        guard Self.parseSize(maxOutput) != nil else {
            throw ValidationError("--max-output takes a size in bytes like 4096, 64K or 16M, not '\(maxOutput)'")
        }
        if let bad = env.first(where: { !EnvironmentAllowlist.isValidPattern($0) }) {
            throw ValidationError("--env takes a variable name or a glob such as 'AWS_*', not '\(bad)'")
        }
        try parallel.validate(stream: stream)
        if itemsMarker != nil, input != nil {
            throw ValidationError("the items come either after ::: or from --input, not both")
        }
        if stream, let listed = argumentItems, let bad = listed.firstIndex(where: { $0.contains(null ? 0 : 10) }) {
            // A stream process reads one item per line (or per NUL record).
            throw ValidationError("item \(bad + 1) after ::: holds a \(null ? "NUL byte" : "newline"), which --stream cannot feed as one item\(null ? "" : " (-0 separates items by NUL bytes)")")
        }
    }

    func validateCommand(_ subcommand: String, _ type: any ParsableCommand.Type) throws {
        // The command's words are captured as they are, `--help` among them
        // when it comes first: it is batch's, not a command.
        if command.first != "--", let first = command.first, ["-h", "--help", "-help"].contains(first) {
            throw CleanExit.helpRequest(type)
        }
        if command.first != "--", let program = commandLine.first,
           let hint = ArgumentHints.optionTakenForCommand(program, options: Self.optionNames)
        {
            throw ValidationError(hint)
        }
        guard let program = commandLine.first, !program.isEmpty else {
            throw ValidationError("no command given: put it after --, as in: batch \(subcommand) -- echo")
        }
    }

    /// Refuses, before a job is created, a command that cannot run from here,
    /// as xargs stops at once with 127: looked up with this process's PATH
    /// and working directory, exactly as a daemon of this host will. On a
    /// network store the daemons may run elsewhere, where the command may
    /// well exist: there it only warns, on stderr, and the job is stored.
    func checkCommandRuns(_ spec: JobSpec, on location: StoreLocation) throws {
        guard !noCheck, let program = spec.argumentBytes.first else { return }
        if let path = ExecutableLocator.locate(program, workingDirectory: spec.workingDirectoryBytes, environment: spec.environment),
           ExecutableLocator.isExecutableFile(path)
        {
            return
        }
        if case .postgres = location {
            StandardError.line(
                "batch: warning: command not found here (or not executable): \(Printable.text(program)); stored anyway, for daemons on other hosts (--no-check silences this)")
            return
        }
        throw CLIError(
            .commandNotFound,
            "command not found (or not executable): \(Printable.text(program)); nothing was stored (--no-check skips this check)")
    }

    /// The long options of `submit` and `run`, for suggestions.
    static let optionNames = [
        "--null", "--input", "--chunksize", "--max-item-size", "--stream", "--retries", "--retry-delay", "--timeout",
        "--halt", "--max-output", "--no-check", "--jobs", "--max-args", "--shell", "--colsep", "--dry-run", "--db",
        "--unordered", "--json", "--tag", "--joblog", "--progress", "--no-progress", "--resume", "--priority", "--weight",
        "--rate", "--env", "--env-all",
    ]

    static func parseSize(_ text: String) -> Int? {
        let scales: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)]
        for (suffix, scale) in scales where text.hasSuffix(suffix) {
            guard let value = Int(text.dropLast(suffix.count)), value >= 0, value <= Int.max / scale else { return nil }
            return value * scale
        }
        return Int(text).flatMap { $0 >= 0 ? $0 : nil }
    }

    /// Opens the input: the file named by `--input`, else standard input.
    func openInput() throws -> (fd: Int32, name: String) {
        if itemsMarker != nil { return (-1, "the arguments after :::") }
        guard let input else { return (0, "standard input") }
        let fd = open(input, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CLIError(.noInput, "cannot read the input file \(input): \(String(cString: strerror(errno)))")
        }
        return (fd, input)
    }

    /// The variables of this process's environment that `--env` and the
    /// default list admit (`EnvironmentAllowlist`), as raw bytes.
    var storedEnvironment: [Data] {
        EnvironmentAllowlist(adding: env, all: envAll).filter(Self.currentEnvironment())
    }

    /// This process's environment, as raw bytes: recorded with the job so the
    /// command sees what it would see when run from this shell.
    static func currentEnvironment() -> [Data] {
        var entries: [Data] = []
        var pointer = environ
        while let entry = pointer.pointee {
            entries.append(Data(bytes: entry, count: strlen(entry)))
            pointer += 1
        }
        return entries
    }

    /// The command's arguments as this process got them, bytes that are not
    /// UTF-8 included: the argument parser only sees them as Strings, where
    /// such bytes are already replaced. They are the last arguments of argv.
    func commandBytes() -> [[UInt8]] {
        parallel.command(Array(rawWords().prefix(itemsMarker ?? words.count)))
    }

    /// `words` as bytes, as this process got them.
    func rawWords() -> [[UInt8]] {
        let raw = (0..<Int(CommandLine.argc)).map { index -> [UInt8] in
            guard let pointer = CommandLine.unsafeArgv[index] else { return [] }
            return Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
        }
        let tail = Array(raw.suffix(words.count))
        // Only when they are the same arguments (as the parser decoded them).
        guard tail.map({ String(decoding: $0, as: UTF8.self) }) == words else { return words.map { Array($0.utf8) } }
        return tail
    }

    /// Where the items come from: the arguments after `:::`, or the input.
    func inputItems(fd: Int32, separator: UInt8, passedAsArgument: Bool) -> InputItems {
        if let listed = argumentItems {
            return InputItems(listed: listed, maxItemSize: maxItemBytes, passedAsArgument: passedAsArgument)
        }
        return InputItems(fd: fd, separator: separator, maxItemSize: maxItemBytes, passedAsArgument: passedAsArgument)
    }

    /// The working directory, exactly, as bytes.
    static func workingDirectoryBytes() -> [UInt8]? {
        guard let pointer = getcwd(nil, 0) else { return nil }
        defer { free(pointer) }
        return Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
    }

    func jobSpec() -> JobSpec {
        let folder = Self.workingDirectoryBytes()
        let arguments = commandBytes()
        return JobSpec(
            command: arguments.map { String(decoding: $0, as: UTF8.self) },
            workingDirectory: folder.map { String(decoding: $0, as: UTF8.self) } ?? FileManager.default.currentDirectoryPath,
            environment: storedEnvironment,
            chunkSize: chunkSizePolicy,
            nulSeparated: null,
            retries: retries,
            retryDelay: DurationText.seconds(retryDelay) ?? 1,
            timeout: timeout.flatMap(ItemTimeout.init(parsing:)),
            maxOutput: Self.parseSize(maxOutput) ?? JobSpec.defaultMaxOutput,
            halt: halt.flatMap(HaltPolicy.init(parsing:)),
            stream: stream,
            argumentBytes: arguments,
            workingDirectoryBytes: folder,
            maxRunning: parallel.runningLimit,
            grouping: parallel.grouping,
            itemToken: parallel.replace.map { Array($0.utf8) },
            columnSeparator: parallel.colsep,
            priority: scheduling.priority,
            weight: scheduling.weight,
            rate: scheduling.rate.flatMap(RateLimit.init(parsing:)))
    }
}

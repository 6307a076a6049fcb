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

    @Argument(
        parsing: .remaining,
        help: "The command to run for each item, after --. Each {} is replaced by the item; without {}, the item is the last argument.")
    var command: [String] = []

    /// The command without the `--` that separates it from batch's options.
    var commandLine: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

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
    }

    func validateCommand() throws {
        guard let program = commandLine.first, !program.isEmpty else {
            throw ValidationError("no command given: put it after --, as in: batch submit -- echo")
        }
    }

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
        guard let input else { return (0, "standard input") }
        let fd = open(input, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CLIError(.noInput, "cannot read the input file \(input): \(String(cString: strerror(errno)))")
        }
        return (fd, input)
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

    func jobSpec() -> JobSpec {
        JobSpec(
            command: commandLine,
            workingDirectory: FileManager.default.currentDirectoryPath,
            environment: Self.currentEnvironment(),
            chunkSize: chunkSizePolicy,
            nulSeparated: null)
    }
}

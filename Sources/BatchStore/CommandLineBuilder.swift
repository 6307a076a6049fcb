import Foundation

/// Builds a job's command line for one item, or a group of items, like
/// xargs and GNU parallel: each replacement string in an argument is
/// replaced; when no argument has one, the items are appended as the last
/// arguments. The replacement strings are GNU parallel's: `{}` the item (or
/// the string chosen with `-I`), `{.}` without its extension, `{/}` its
/// basename, `{//}` its dirname, `{/.}` the basename without extension, `{#}`
/// the item's line number, `{%}` the job slot, `{1}`, `{2}`, … its columns
/// (`--colsep`; without it `{1}` is the whole item).
///
/// For a group (`-n`, `-X`), an argument that holds a replacement is repeated
/// once per item, as GNU parallel's `-X` does (`pre-{}.txt` becomes
/// `pre-a.txt pre-b.txt`).
///
/// Inside the script of a shell (`sh -c SCRIPT`, `bash -c`, and the other
/// POSIX shells, and `--shell`), a replacement is the value quoted for that
/// shell, as GNU parallel does: an item is data and never runs as shell code.
/// A value of plain characters (letters, digits, `_-./:,+=@%^`) needs no
/// quotes and is pasted as it is; for a group, the values are joined by
/// spaces.
///
/// Both the daemons (what runs) and the CLI (`--dry-run`, `--joblog`) use
/// it, so what is shown is what runs.
public struct CommandLineBuilder: Sendable {
    /// A replacement string, and what it stands for.
    enum Replacement: Sendable, Hashable {
        case item, withoutExtension, basename, dirname, basenameWithoutExtension, line, slot
        case column(Int)

        static let fixed: [(token: [UInt8], replacement: Replacement)] = [
            (Array("{//}".utf8), .dirname), (Array("{/.}".utf8), .basenameWithoutExtension),
            (Array("{.}".utf8), .withoutExtension), (Array("{/}".utf8), .basename), (Array("{#}".utf8), .line),
            (Array("{%}".utf8), .slot),
        ]

        /// The value, with GNU parallel's rules: `{.}` drops a last `.ext`
        /// within the last path component, `{//}` of a name without `/` is `.`.
        func value(of item: Item, slot: Int, columns: ColumnSplitter?) -> [UInt8] {
            let slash = UInt8(ascii: "/")
            func dropExtension(_ bytes: [UInt8]) -> [UInt8] {
                var index = bytes.endIndex
                while index > bytes.startIndex, bytes[index - 1] != slash, bytes[index - 1] != UInt8(ascii: ".") { index -= 1 }
                guard index > bytes.startIndex, bytes[index - 1] == UInt8(ascii: ".") else { return bytes }
                return Array(bytes[..<(index - 1)])
            }
            func basename(_ bytes: [UInt8]) -> [UInt8] {
                bytes.lastIndex(of: slash).map { Array(bytes[($0 + 1)...]) } ?? bytes
            }
            let bytes = item.bytes
            switch self {
            case .item: return bytes
            case .withoutExtension: return dropExtension(bytes)
            case .basename: return basename(bytes)
            case .dirname: return bytes.lastIndex(of: slash).map { Array(bytes[..<$0]) } ?? [UInt8(ascii: ".")]
            case .basenameWithoutExtension: return dropExtension(basename(bytes))
            case .line: return Array("\(item.line)".utf8)
            case .slot: return Array("\(slot)".utf8)
            case .column(let number):
                guard let columns else { return number == 1 ? bytes : [] }
                let fields = columns.split(bytes)
                return number <= fields.count ? fields[number - 1] : []
            }
        }
    }

    /// One item of the input: its bytes and its line number.
    public struct Item: Sendable {
        public var bytes: [UInt8]
        public var line: Int64
        public init(_ bytes: [UInt8], line: Int64) {
            self.bytes = bytes
            self.line = line
        }
    }

    /// One argument: literal bytes and replacements, in order.
    enum Piece: Sendable {
        case literal([UInt8])
        case replacement(Replacement)
    }

    let arguments: [[UInt8]]
    let pieces: [[Piece]]
    let hasPlaceholder: Bool
    /// The index of the shell script argument (after `-c`), if the program is a shell.
    let scriptIndex: Int?
    let columns: ColumnSplitter?
    /// Whether any argument holds a replacement string (else items are appended).
    public var usesReplacements: Bool { hasPlaceholder }
    static let shells: Set<String> = ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "busybox"]

    public init(command: [String]) {
        self.init(arguments: command.map { Array($0.utf8) })
    }

    /// The command as bytes, exactly as it was given; `itemToken` replaces
    /// `{}` (`-I`); `columns` splits items for `{1}`, `{2}`, ….
    public init(arguments: [[UInt8]], itemToken: [UInt8]? = nil, columns: ColumnSplitter? = nil) {
        self.arguments = arguments
        self.columns = columns
        let token = itemToken.flatMap { $0.isEmpty ? nil : $0 } ?? Array("{}".utf8)
        pieces = arguments.map { Self.split($0, itemToken: token) }
        hasPlaceholder = pieces.contains { $0.contains { if case .replacement = $0 { true } else { false } } }
        scriptIndex = Self.shellScriptIndex(arguments.map { String(decoding: $0, as: UTF8.self) })
    }

    /// The builder for a job's command.
    public init(spec: JobSpec) {
        self.init(
            arguments: spec.argumentBytes, itemToken: spec.itemToken,
            columns: spec.columnSeparator.flatMap { try? ColumnSplitter(pattern: $0) })
    }

    /// An argument cut into literals and replacement strings (the longest
    /// token first: `{//}` before `{/}`).
    static func split(_ argument: [UInt8], itemToken: [UInt8]) -> [Piece] {
        var tokens = Replacement.fixed
        tokens.append((itemToken, .item))
        tokens.sort { $0.token.count > $1.token.count }
        var pieces: [Piece] = []
        var literal: [UInt8] = []
        var index = argument.startIndex
        func add(_ replacement: Replacement, length: Int) {
            if !literal.isEmpty { pieces.append(.literal(literal)); literal = [] }
            pieces.append(.replacement(replacement))
            index += length
        }
        while index < argument.endIndex {
            if let found = tokens.first(where: { argument[index...].starts(with: $0.token) }) {
                add(found.replacement, length: found.token.count)
            } else if argument[index] == UInt8(ascii: "{"), let (number, length) = columnToken(argument[index...]) {
                add(.column(number), length: length)
            } else {
                literal.append(argument[index])
                index += 1
            }
        }
        if !literal.isEmpty || pieces.isEmpty { pieces.append(.literal(literal)) }
        return pieces
    }

    /// `{N}` (N from 1) at the start of `bytes`: the column number and the token's length.
    static func columnToken(_ bytes: ArraySlice<UInt8>) -> (Int, Int)? {
        var index = bytes.startIndex + 1
        var number = 0
        while index < bytes.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]), number < 100_000 {
            number = number * 10 + Int(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        guard index > bytes.startIndex + 1, index < bytes.endIndex, bytes[index] == UInt8(ascii: "}"), number >= 1
        else { return nil }
        return (number, index + 1 - bytes.startIndex)
    }

    /// Where the script of `SHELL [options] -c SCRIPT` is: the argument after
    /// the option cluster holding `c`, with only options before it.
    static func shellScriptIndex(_ command: [String]) -> Int? {
        guard let program = command.first,
              shells.contains(URL(fileURLWithPath: program).lastPathComponent)
        else { return nil }
        var index = 1
        if URL(fileURLWithPath: program).lastPathComponent == "busybox" {
            guard command.count > 1, command[1] == "sh" || command[1] == "ash" else { return nil }
            index = 2
        }
        while index < command.count {
            let argument = command[index]
            guard argument.hasPrefix("-") || argument.hasPrefix("+"), argument != "-", argument != "--" else { return nil }
            if argument.hasPrefix("-"), !argument.hasPrefix("--"), argument.contains("c") {
                return index + 1 < command.count ? index + 1 : nil
            }
            // `-o NAME` takes the next argument.
            if argument == "-o" || argument == "+o" || argument == "-O" || argument == "+O" { index += 1 }
            index += 1
        }
        return nil
    }

    /// The argument vector (program name first) for `item`, on input line `line`.
    public func argv(for item: Data, line: Int64 = 0, slot: Int = 1) -> [[UInt8]] {
        argv(for: [Item(Array(item), line: line)], slot: slot)
    }

    /// The argument vector (program name first) for one run of `items`.
    public func argv(for items: [Item], slot: Int = 1) -> [[UInt8]] {
        guard hasPlaceholder else { return arguments + items.map(\.bytes) }
        var argv: [[UInt8]] = []
        for index in pieces.indices {
            let argumentPieces = pieces[index]
            let replaced = argumentPieces.contains { if case .replacement = $0 { true } else { false } }
            if !replaced {
                argv.append(arguments[index])
            } else if index == scriptIndex {
                var argument: [UInt8] = []
                for piece in argumentPieces {
                    switch piece {
                    case .literal(let bytes): argument += bytes
                    case .replacement(let replacement):
                        let values = items.map { Self.shellQuoted(replacement.value(of: $0, slot: slot, columns: columns)) }
                        argument += Array(values.joined(separator: [UInt8(ascii: " ")]))
                    }
                }
                argv.append(argument)
            } else {
                for item in items {
                    var argument: [UInt8] = []
                    for piece in argumentPieces {
                        switch piece {
                        case .literal(let bytes): argument += bytes
                        case .replacement(let replacement): argument += replacement.value(of: item, slot: slot, columns: columns)
                        }
                    }
                    argv.append(argument)
                }
            }
        }
        return argv
    }

    /// How many of `items` (at least one, at most `grouping`'s maximum) one
    /// run takes: as many as fit the grouping's argument budget, counting
    /// each argument's bytes, its NUL and its pointer, as the kernel does.
    /// `items` may be lazy: only the items looked at are made.
    public func groupCount<Items: Sequence<Item>>(_ items: Items, grouping: ItemGrouping, slot: Int = 1) -> Int {
        var iterator = items.makeIterator()
        guard let first = iterator.next() else { return 0 }
        let budget = grouping.argumentBudget
        let fixed = argv(for: [first], slot: slot).reduce(0) { $0 + $1.count + 9 }
        let fixedCost = self.fixedCost
        var used = fixed
        var count = 1
        while let item = iterator.next() {
            guard count < grouping.maximumItems else { break }
            let more = argv(for: [item], slot: slot).reduce(0) { $0 + $1.count + 9 } - fixedCost
            if used + more > budget { break }
            used += more
            count += 1
        }
        return count
    }

    /// What the arguments that do not change with the item cost.
    private var fixedCost: Int {
        pieces.indices.reduce(0) { total, index in
            let replaced = pieces[index].contains { if case .replacement = $0 { true } else { false } }
            return replaced && index != scriptIndex ? total : total + arguments[index].count + 9
        }
    }

    /// The command line as one line a POSIX shell reads back as the same
    /// arguments (`--dry-run`, `--joblog`).
    public static func shellLine(_ argv: [[UInt8]]) -> [UInt8] {
        Array(argv.map(shellQuoted).joined(separator: [UInt8(ascii: " ")]))
    }

    /// The bytes as one word of a POSIX shell: as they are when every byte is
    /// plain, else in single quotes (a `'` written as `'\''`).
    public static func shellQuoted(_ bytes: [UInt8]) -> [UInt8] {
        if !bytes.isEmpty, bytes.allSatisfy({ plainBytes.contains($0) }) { return bytes }
        var quoted: [UInt8] = [UInt8(ascii: "'")]
        for byte in bytes {
            if byte == UInt8(ascii: "'") {
                quoted += Array("'\\''".utf8)
            } else {
                quoted.append(byte)
            }
        }
        quoted.append(UInt8(ascii: "'"))
        return quoted
    }

    private static let plainBytes = Set(Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:,+=@%^".utf8))
}

import BatchStore
import Foundation

/// Builds a job's command line for one item, like xargs and GNU parallel:
/// each replacement string in an argument is replaced; when no argument has
/// one, the item is appended as the last argument. The replacement strings
/// are GNU parallel's: `{}` the item, `{.}` without its extension, `{/}` its
/// basename, `{//}` its dirname, `{/.}` the basename without extension, `{#}`
/// the item's line number.
///
/// Inside the script of a shell (`sh -c SCRIPT`, `bash -c`, and the other
/// POSIX shells), a replacement is the value quoted for that shell, as GNU
/// parallel does: an item is data and never runs as shell code. A value of
/// plain characters (letters, digits, `_-./:,+=@%^`) needs no quotes and is
/// pasted as it is.
public struct CommandLineBuilder: Sendable {
    /// A replacement string, and what it stands for.
    enum Replacement: CaseIterable, Sendable {
        case item, withoutExtension, basename, dirname, basenameWithoutExtension, line

        var token: [UInt8] {
            switch self {
            case .item: Array("{}".utf8)
            case .withoutExtension: Array("{.}".utf8)
            case .basename: Array("{/}".utf8)
            case .dirname: Array("{//}".utf8)
            case .basenameWithoutExtension: Array("{/.}".utf8)
            case .line: Array("{#}".utf8)
            }
        }

        /// The value, with GNU parallel's rules: `{.}` drops a last `.ext`
        /// within the last path component, `{//}` of a name without `/` is `.`.
        func value(of item: [UInt8], line: Int64) -> [UInt8] {
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
            switch self {
            case .item: return item
            case .withoutExtension: return dropExtension(item)
            case .basename: return basename(item)
            case .dirname: return item.lastIndex(of: slash).map { Array(item[..<$0]) } ?? [UInt8(ascii: ".")]
            case .basenameWithoutExtension: return dropExtension(basename(item))
            case .line: return Array("\(line)".utf8)
            }
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
    static let shells: Set<String> = ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "busybox"]

    public init(command: [String]) {
        self.init(arguments: command.map { Array($0.utf8) })
    }

    /// The command as bytes, exactly as it was given.
    public init(arguments: [[UInt8]]) {
        self.arguments = arguments
        pieces = arguments.map(Self.split)
        hasPlaceholder = pieces.contains { $0.contains { if case .replacement = $0 { true } else { false } } }
        scriptIndex = Self.shellScriptIndex(arguments.map { String(decoding: $0, as: UTF8.self) })
    }

    /// An argument cut into literals and replacement strings (the longest
    /// token first: `{//}` before `{/}`).
    static func split(_ argument: [UInt8]) -> [Piece] {
        let tokens = Replacement.allCases.sorted { $0.token.count > $1.token.count }
        var pieces: [Piece] = []
        var literal: [UInt8] = []
        var index = argument.startIndex
        while index < argument.endIndex {
            if argument[index] == UInt8(ascii: "{"),
               let found = tokens.first(where: { argument[index...].starts(with: $0.token) })
            {
                if !literal.isEmpty { pieces.append(.literal(literal)); literal = [] }
                pieces.append(.replacement(found))
                index += found.token.count
            } else {
                literal.append(argument[index])
                index += 1
            }
        }
        if !literal.isEmpty || pieces.isEmpty { pieces.append(.literal(literal)) }
        return pieces
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
    public func argv(for item: Data, line: Int64 = 0) -> [[UInt8]] {
        let itemBytes = Array(item)
        guard hasPlaceholder else { return arguments + [itemBytes] }
        return pieces.indices.map { index in
            var argument: [UInt8] = []
            for piece in pieces[index] {
                switch piece {
                case .literal(let bytes): argument += bytes
                case .replacement(let replacement):
                    let value = replacement.value(of: itemBytes, line: line)
                    argument += index == scriptIndex ? Self.shellQuoted(value) : value
                }
            }
            return argument
        }
    }

    /// The bytes as one word of a POSIX shell: as they are when every byte is
    /// plain, else in single quotes (a `'` written as `'\''`).
    static func shellQuoted(_ bytes: [UInt8]) -> [UInt8] {
        let plain = Set(Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:,+=@%^".utf8))
        if !bytes.isEmpty, bytes.allSatisfy({ plain.contains($0) }) { return bytes }
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
}

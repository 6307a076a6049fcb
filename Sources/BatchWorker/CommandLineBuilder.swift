import BatchStore
import Foundation

/// Builds a job's command line for one item, like xargs and GNU parallel:
/// each `{}` in an argument is replaced by the item; when no argument has
/// one, the item is appended as the last argument.
///
/// Inside the script of a shell (`sh -c SCRIPT`, `bash -c`, and the other
/// POSIX shells), `{}` is replaced by the item quoted for that shell, as GNU
/// parallel does: an item is data and never runs as shell code. An item of
/// plain characters (letters, digits, `_-./:,+=@%^`) needs no quotes and is
/// pasted as it is.
public struct CommandLineBuilder: Sendable {
    let arguments: [[UInt8]]
    let hasPlaceholder: Bool
    /// The index of the shell script argument (after `-c`), if the program is a shell.
    let scriptIndex: Int?
    static let placeholder: [UInt8] = Array("{}".utf8)
    static let shells: Set<String> = ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "busybox"]

    public init(command: [String]) {
        self.init(arguments: command.map { Array($0.utf8) })
    }

    /// The command as bytes, exactly as it was given.
    public init(arguments: [[UInt8]]) {
        self.arguments = arguments
        hasPlaceholder = arguments.contains { $0.firstRange(of: Self.placeholder) != nil }
        scriptIndex = Self.shellScriptIndex(arguments.map { String(decoding: $0, as: UTF8.self) })
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

    /// The argument vector (program name first) for `item`.
    public func argv(for item: Data) -> [[UInt8]] {
        let itemBytes = Array(item)
        guard hasPlaceholder else { return arguments + [itemBytes] }
        var argv = arguments.map { $0.replacing(Self.placeholder, with: itemBytes) }
        if let scriptIndex {
            argv[scriptIndex] = arguments[scriptIndex].replacing(Self.placeholder, with: Self.shellQuoted(itemBytes))
        }
        return argv
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

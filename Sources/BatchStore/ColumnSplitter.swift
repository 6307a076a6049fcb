import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Splits an item into columns at each match of a regular expression
/// (`--colsep`), on the item's bytes (nothing is decoded, so a Latin-1
/// column stays as it was).
///
/// The expression is POSIX extended (`regcomp` with `REG_EXTENDED`), with
/// the Perl escapes GNU parallel users write translated first: `\t`, `\n`,
/// `\s`, `\S`, `\d`, `\w`. A match of no characters does not split.
public final class ColumnSplitter: @unchecked Sendable {
    // regexec on one compiled expression is safe from several threads (POSIX);
    // the expression is never changed after init.
    private var expression = regex_t()
    public let pattern: String

    public struct InvalidPattern: Error, CustomStringConvertible {
        public var description: String
    }

    public init(pattern: String) throws {
        self.pattern = pattern
        let code = regcomp(&expression, Self.translated(pattern), REG_EXTENDED)
        if code != 0 {
            var message = [CChar](repeating: 0, count: 256)
            regerror(code, &expression, &message, message.count)
            throw InvalidPattern(description: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    deinit { regfree(&expression) }

    /// Perl's common escapes in POSIX terms.
    static func translated(_ pattern: String) -> String {
        var out = ""
        var escaped = false
        for character in pattern {
            if escaped {
                switch character {
                case "t": out += "\t"
                case "n": out += "\n"
                case "s": out += "[[:space:]]"
                case "S": out += "[^[:space:]]"
                case "d": out += "[0-9]"
                case "w": out += "[[:alnum:]_]"
                default: out += "\\" + String(character)
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        if escaped { out += "\\\\" }
        return out
    }

    /// The columns of `bytes` (one column when nothing matches).
    public func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var columns: [[UInt8]] = []
        var start = 0
        var text = bytes.map { CChar(bitPattern: $0) }
        text.append(0)
        var searchFrom = 0
        while searchFrom <= bytes.count {
            var match = regmatch_t()
            let found = text.withUnsafeBufferPointer { buffer in
                // REG_NOTBOL after the first search: `^` means the item's start only.
                regexec(&expression, buffer.baseAddress! + searchFrom, 1, &match, searchFrom == 0 ? 0 : REG_NOTBOL)
            }
            guard found == 0 else { break }
            let matchStart = searchFrom + Int(match.rm_so)
            let matchEnd = searchFrom + Int(match.rm_eo)
            if matchEnd == matchStart {
                // An empty match splits nothing; look one byte further.
                searchFrom = matchStart + 1
                continue
            }
            columns.append(Array(bytes[start..<matchStart]))
            start = matchEnd
            searchFrom = matchEnd
        }
        columns.append(Array(bytes[start...]))
        return columns
    }
}

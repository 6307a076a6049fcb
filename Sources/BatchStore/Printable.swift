import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Text from outside (commands, paths, items) made safe for one line of a
/// message or a table row: control characters (a newline in a command name)
/// and bytes that are not UTF-8 (a Latin-1 file name) are shown escaped,
/// `\n`, `\t`, `\xff`, so a line stays one line and every byte is seen.
public enum Printable {
    public static func text(_ bytes: [UInt8]) -> String {
        var out = ""
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let length = byte < 0x80 ? 1 : byte >> 5 == 0b110 ? 2 : byte >> 4 == 0b1110 ? 3 : byte >> 3 == 0b11110 ? 4 : 0
            if length > 1, index + length <= bytes.count,
               let scalar = String(validating: bytes[index..<index + length], as: UTF8.self)
            {
                out += scalar
                index += length
                continue
            }
            switch byte {
            case 0x0A: out += "\\n"
            case 0x09: out += "\\t"
            case 0x0D: out += "\\r"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(byte))
            default: out += String(format: "\\x%02x", byte)
            }
            index += 1
        }
        return out
    }

    public static func text(_ string: String) -> String { text(Array(string.utf8)) }

    /// The symbolic name of an errno value that batch treats specially.
    public static func errnoName(_ code: Int32) -> String {
        switch code {
        case EMFILE: "EMFILE"
        case ENFILE: "ENFILE"
        case EAGAIN: "EAGAIN"
        case ENOMEM: "ENOMEM"
        case E2BIG: "E2BIG"
        default: "errno \(code)"
        }
    }
}

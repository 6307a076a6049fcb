import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which of the submitter's environment variables are stored with a job.
///
/// The stored environment is what the job's commands run with, and anyone who
/// can read the job (a daemon's operator, a shared database's reader) can
/// read it: a token in the submitter's shell must not travel by default. So
/// only names on this list are stored: a default wide enough for ordinary
/// commands (the search path, the user, the locale, the time zone, the
/// temporary folder, Python's path and environments), plus the names or
/// globs the user adds with `--env` (as in GNU parallel's `--env`), or every
/// name with `--env-all`.
public struct EnvironmentAllowlist: Sendable, Hashable {
    /// Stored unless told otherwise.
    public static let defaultPatterns = [
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_*", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_*",
    ]

    /// Shell glob patterns (`*`, `?`, `[...]`) matched against whole names.
    public var patterns: [String]
    /// Every name is stored.
    public var all: Bool

    public init(adding extra: [String] = [], all: Bool = false) {
        self.patterns = Self.defaultPatterns + extra
        self.all = all
    }

    /// Whether a variable of this name is stored.
    public func admits(name: String) -> Bool {
        all || patterns.contains { fnmatch($0, name, 0) == 0 }
    }

    /// The entries (`NAME=value`, as bytes) whose names it admits, in order.
    public func filter(_ entries: [Data]) -> [Data] {
        guard !all else { return entries }
        return entries.filter { entry in
            guard let equals = entry.firstIndex(of: UInt8(ascii: "=")) else { return false }
            return admits(name: String(decoding: entry[entry.startIndex..<equals], as: UTF8.self))
        }
    }

    /// Whether `pattern` is a usable name or glob: letters, digits, `_` and
    /// glob characters, not empty, no `=`.
    public static func isValidPattern(_ pattern: String) -> Bool {
        !pattern.isEmpty && pattern.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_*?[]!-".contains($0)) }
    }
}

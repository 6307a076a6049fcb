import Foundation

/// Where a store lives, as both binaries resolve it: `--db`, else
/// `$BATCH_DB`, else `$XDG_DATA_HOME/batch/batch.db`, else
/// `~/.local/share/batch/batch.db`; a `postgres://` or `postgresql://` URL,
/// or libpq's key=value pairs, name a PostgreSQL database. Everything outside the backends names a
/// store by its location and opens it through `StoreFactory`, so a network
/// store can stand where a file stands.
///
/// Only `description` is shown to users, and it never holds a secret.
public enum StoreLocation: Sendable, Hashable, CustomStringConvertible {
    /// A SQLite database file (an absolute path).
    case file(String)
    /// A PostgreSQL database: libpq's connection string as given (a URL or
    /// key=value pairs; `PG*` variables and `~/.pgpass` fill in the rest).
    /// It may hold a password: it travels only in an environment, and is
    /// shown as `description`, which has none.
    case postgres(String)

    /// The location `option` (a `--db` value) names, else the environment's.
    public static func resolve(option: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> StoreLocation
    {
        if let option, !option.isEmpty { return try parse(option) }
        if let value = environment["BATCH_DB"], !value.isEmpty { return try parse(value) }
        if let data = environment["XDG_DATA_HOME"], !data.isEmpty {
            return .file(absolute(data + "/batch/batch.db"))
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return .file(home + "/.local/share/batch/batch.db")
    }

    /// A location as written by a user: a file path (relative to the
    /// working directory), or a URL of a store this build has.
    public static func parse(_ text: String) throws -> StoreLocation {
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") || isKeywordConninfo(text) {
            return .postgres(text)
        }
        return .file(absolute(text))
    }

    /// libpq's key=value form (`host=db dbname=jobs`): words that each
    /// start with one of its keywords and `=`. A file path does not look
    /// like that (and `./host=x` still names a file).
    static func isKeywordConninfo(_ text: String) -> Bool {
        let keywords: Set<Substring> = [
            "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "sslmode", "service", "connect_timeout",
            "application_name", "options", "sslrootcert", "sslcert", "sslkey", "target_session_attrs",
        ]
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        return !words.isEmpty && words.allSatisfy { word in
            guard let equals = word.firstIndex(of: "=") else { return false }
            return keywords.contains(word[..<equals])
        }
    }

    /// Absolute, so that a daemon started elsewhere opens the same file.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return FileManager.default.currentDirectoryPath + "/" + path
    }

    /// The text that names the location to `StoreLocation.parse`: what an
    /// autostarted daemon is given in its environment (never in its argv,
    /// where `ps` shows it).
    public var environmentValue: String {
        switch self {
        case .file(let path): path
        case .postgres(let conninfo): conninfo
        }
    }

    /// Where an autostarted daemon logs: beside the file; for a server,
    /// `$XDG_STATE_HOME/batch/batchd.log` (else `~/.local/state/batch/`).
    public var daemonLogPath: String {
        switch self {
        case .file(let path): return path + "-batchd.log"
        case .postgres:
            let environment = ProcessInfo.processInfo.environment
            let state = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
                ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state"
            return state + "/batch/batchd.log"
        }
    }

    public var description: String {
        switch self {
        case .file(let path): path
        case .postgres(let conninfo): Self.withoutPassword(conninfo)
        }
    }

    /// A connection string with any password left out: from a URL's user
    /// part, and a `password=` pair (the forms libpq reads).
    static func withoutPassword(_ conninfo: String) -> String {
        if let scheme = conninfo.range(of: "://") {
            let rest = conninfo[scheme.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            var shown = conninfo
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                shown.removeSubrange(colon..<at)
            }
            // A password may also come as a query parameter.
            return shown.replacing(/([?&])password=[^&]*/, with: { "\($0.output.1)password=…" })
        }
        return conninfo.replacing(/password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/, with: { _ in "password=…" })
    }
}

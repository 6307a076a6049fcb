import Foundation

/// Where a store lives, as both binaries resolve it: `--db`, else
/// `$BATCH_DB`, else `$XDG_DATA_HOME/batch/batch.db`, else
/// `~/.local/share/batch/batch.db`. Everything outside the backends names a
/// store by its location and opens it through `StoreFactory`, so a network
/// store can stand where a file stands.
///
/// Only `description` is shown to users, and it never holds a secret.
public enum StoreLocation: Sendable, Hashable, CustomStringConvertible {
    /// A SQLite database file (an absolute path).
    case file(String)

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
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            throw StoreError(.cannotOpen, "this build of batch has no PostgreSQL store; give --db a file path")
        }
        return .file(absolute(text))
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
        }
    }

    /// Where an autostarted daemon logs: beside the file.
    public var daemonLogPath: String {
        switch self {
        case .file(let path): path + "-batchd.log"
        }
    }

    public var description: String {
        switch self {
        case .file(let path): path
        }
    }
}

/// Opens the store at a location: the one place that knows which backend
/// serves which kind of location.
public enum StoreFactory {
    public static func open(_ location: StoreLocation) throws -> any BatchStore {
        switch location {
        case .file(let path): try SQLiteStore(path: path)
        }
    }
}

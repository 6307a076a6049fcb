import Foundation

/// Where the database lives: `--db PATH`, else `$BATCH_DB`, else
/// `$XDG_DATA_HOME/batch/batch.db`, else `~/.local/share/batch/batch.db`.
/// Both binaries resolve it the same way, so they meet at one file.
public enum DatabaseLocation {
    public static func resolve(option: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        if let option, !option.isEmpty { return absolute(option) }
        if let path = environment["BATCH_DB"], !path.isEmpty { return absolute(path) }
        if let data = environment["XDG_DATA_HOME"], !data.isEmpty {
            return absolute(data + "/batch/batch.db")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/share/batch/batch.db"
    }

    /// Absolute, so that a daemon started elsewhere opens the same file.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return FileManager.default.currentDirectoryPath + "/" + path
    }
}

import ArgumentParser
import BatchStore
import Foundation

/// A consistent copy of a SQLite store, taken while daemons write to it.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent copy of the database to a new file, while daemons run.",
        discussion: """
            The copy is a snapshot of one moment (SQLite's VACUUM INTO on a read transaction): every job, item \
            and result committed by then, nothing half-written. It opens with batch as it is (--db FILE), \
            readable by its owner only. An existing file is never overwritten. Daemons and submitters go on \
            writing meanwhile; they are not paused.

            A PostgreSQL store is backed up with the server's own tools: pg_dump (or pg_basebackup).

            Example:
              batch backup ~/backups/batch-$(date +%F).db

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("Where to write the copy (a new file).", valueName: "file"))
    var file: String

    func run() async throws {
        try await reportingErrors {
            let location = try store.location()
            guard case .file = location else {
                throw CLIError(.usage, "\(location) is a PostgreSQL database: back it up with pg_dump (for example: pg_dump -Fc -f batch.dump DBNAME)")
            }
            guard let db = try store.openStore() as? SQLiteStore else {
                throw CLIError(.usage, "\(location) cannot be backed up by batch")
            }
            let destination = (file as NSString).expandingTildeInPath
            guard !FileManager.default.fileExists(atPath: destination) else {
                throw CLIError(.cannotCreate, "\(destination) exists: a backup never overwrites a file")
            }
            do {
                try db.backup(to: destination)
            } catch let error as StoreError {
                throw CLIError(.cannotCreate, "could not write the backup \(destination): \(error.message)")
            }
        }
    }
}

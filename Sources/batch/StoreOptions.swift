import ArgumentParser
import BatchStore
import BatchBackends
import Foundation

/// Options every command that touches the database shares.
struct StoreOptions: ParsableArguments {
    @Option(help: "The database file (default: $BATCH_DB, else $XDG_DATA_HOME/batch/batch.db, else ~/.local/share/batch/batch.db).")
    var db: String?

    @Flag(name: .customLong("no-autostart"), help: "Do not start a daemon when none serves the database (also: BATCH_NO_AUTOSTART=1).")
    var noAutostart = false

    func location() throws -> StoreLocation {
        do {
            return try StoreLocation.resolve(option: db)
        } catch let error as StoreError {
            throw CLIError(error)
        }
    }

    func openStore() throws -> any BatchStore {
        try StoreFactory.open(location())
    }

    var autostart: Bool {
        !noAutostart && ProcessInfo.processInfo.environment["BATCH_NO_AUTOSTART"] != "1"
    }

    /// Starts a daemon in the background when none of the job owner's serves
    /// the database. Where it may not (another user's database or job), it
    /// says why once and goes on: the owner's daemon may still come.
    func ensureDaemon(_ store: any BatchStore, owner: UInt32? = nil) throws {
        guard autostart else { return }
        let launcher = DaemonLauncher(store: store)
        let owner = owner ?? getuid()
        if try !launcher.hasLiveDaemon(forOwner: owner), let refusal = launcher.refusal(forOwner: owner) {
            StandardError.line("batch: \(refusal)")
            return
        }
        try launcher.ensureRunning(forOwner: owner)
    }
}

/// Parses a job id argument.
func parseJobID(_ text: String) throws -> JobID {
    guard let id = JobID(parsing: text) else {
        throw ValidationError("a job id is a positive whole number, not '\(text)'")
    }
    return id
}

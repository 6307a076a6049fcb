import BatchStore
import Foundation
import Testing

/// One database in a temporary directory, with helpers to run the real
/// `batch` and `batchd` against it. Daemons started here are killed when the
/// value goes away.
final class BatchEnvironment: @unchecked Sendable {
    let directory = TemporaryDirectory()
    let dbPath: String
    private var daemons: [TestProcess] = []
    private let lock = NSLock()

    init() {
        dbPath = directory.file("batch.db")
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["BATCH_DB"] = dbPath
        env["BATCH_NO_AUTOSTART"] = "1"
        return env
    }

    private var openedStore: SQLiteStore?

    /// The test's own connection to the database (opened once).
    func store() throws -> SQLiteStore {
        try lock.withLock {
            if let openedStore { return openedStore }
            let store = try SQLiteStore(path: dbPath)
            openedStore = store
            return store
        }
    }

    /// Starts `batch ARGS`, feeding it `input` (then closing its stdin) unless `keepInputOpen`.
    func start(_ arguments: [String], input: String? = nil, keepInputOpen: Bool = false, environment: [String: String]? = nil)
        throws -> TestProcess
    {
        let process = try TestProcess(Binaries.batch, arguments, environment: environment ?? self.environment, directory: directory.path)
        if let input { process.write(input) }
        if !keepInputOpen { process.closeInput() }
        return process
    }

    /// Runs `batch ARGS` to the end: (exit status, stdout, stderr).
    @discardableResult
    func batch(_ arguments: [String], input: String? = nil, timeout: Double = 60) throws -> (status: Int32?, out: String, err: String) {
        let process = try start(arguments, input: input)
        let status = process.wait(timeout: timeout)
        return (status, process.stdoutText, process.stderrText)
    }

    /// Starts a daemon and waits until it has registered.
    @discardableResult
    func startDaemon(_ arguments: [String] = []) throws -> TestProcess {
        let daemon = try TestProcess(Binaries.batchd, ["--db", dbPath] + arguments, environment: environment, directory: directory.path)
        daemon.closeInput()
        lock.withLock { daemons.append(daemon) }
        let registered = try TestProcess.eventually(timeout: 30) {
            try store().daemonsList().contains { $0.pid == daemon.pid }
        }
        try #require(registered, "batchd did not register: \(daemon.stderrText)")
        return daemon
    }

    /// Waits until the job is complete (or ended).
    func waitForJobEnd(_ id: JobID, timeout: Double = 120) throws -> Job? {
        let store = try self.store()
        var job: Job?
        _ = try TestProcess.eventually(timeout: timeout) {
            job = try store.jobFetch(id)
            return job?.state.isFinal == true
        }
        return job
    }

    deinit {
        for daemon in daemons where daemon.isRunning {
            daemon.signal(SIGKILL)
            daemon.wait(timeout: 10)
        }
    }
}

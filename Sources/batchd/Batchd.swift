import ArgumentParser
import BatchStore
import BatchBackends
import BatchWorker
import CSpawn
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle


/// The daemon: serves one database with a pool of workers until SIGTERM or
/// SIGINT, then shuts down gracefully (see `WorkerPool`).
@main
struct Batchd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batchd",
        abstract: "Run the items of batch jobs stored in a database.",
        discussion: """
            Claims chunks of items under leases and runs each job's command on each item. Several daemons \
            may serve one database. On SIGTERM or SIGINT it stops claiming, lets running items finish for \
            the grace period, kills what still runs and hands unfinished items back.

            Example:
              batchd --workers 4 --db ~/jobs.db

            Exit status: 0 after a graceful stop, 64 for bad options, 70 when it stopped on an error (such as \
            the metrics port being in use), 74 when the database cannot be used.
            """,
        version: BatchVersion.line("batchd"))

    @Option(help: "The database file (default: $BATCH_DB, else $XDG_DATA_HOME/batch/batch.db, else ~/.local/share/batch/batch.db).")
    var db: String?

    @Option(help: "How many items to run at once (default: the number of cores).")
    var workers: Int?

    @Option(help: "Delete jobs that ended longer ago than this (checked at start and every hour), or never. Open and running jobs are never deleted.")
    var keep: String = "30d"

    @Option(help: "On SIGTERM/SIGINT, how long running items may take to finish before they are killed (e.g. 500ms, 10s, 1m).")
    var grace: String = "10s"

    @Option(help: "How long a lease on a chunk lasts without renewal; daemons on other hosts take a dead daemon's chunks after this.")
    var lease: String = "30s"

    @Option(name: .customLong("idle-exit"), help: "Exit after no job has been open or running for this long (used when the CLI starts a daemon).")
    var idleExit: String?

    @Option(name: .customLong("stream-warn-after"), help: "Warn in the log when a stream-mode process has not answered an item for this long (and ten times the job's median time per item): it probably drops or buffers lines.")
    var streamWarnAfter: String = "30s"

    @Option(help: "Serve Prometheus metrics at http://ADDRESS/metrics: a port (bound to 127.0.0.1) or HOST:PORT.")
    var metrics: String?

    @Option(name: .customLong("allow"), parsing: .upToNextOption, help: ArgumentHelp(
        "Run only jobs whose command resolves to one of these executables (symbolic links resolved); other jobs stay pending for another daemon, and `batch status` says why. It allows an executable, not what it does: allowing python3 or sh allows any program they run.",
        valueName: "path"))
    var allow: [String] = []

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(name: .customLong("log-format"), help: "text, or json: one JSON object per line (time, level, message, source, and fields such as job, chunk, lines and pid).")
    var logFormat: String = "text"

    @Option(name: .customLong("log-file"), help: "Append the log to this file instead of stderr (default: $BATCHD_LOG_FILE, which an autostarted daemon gets); SIGHUP reopens it (for logrotate).")
    var logFile: String?

    func validate() throws {
        if let workers, !(1...1024).contains(workers) {
            throw ValidationError("--workers must be between 1 and 1024, not \(workers)")
        }
        if keep != "never", DurationText.seconds(keep) == nil {
            throw ValidationError("--keep takes a duration like 30d, 12h or 1h, or never, not '\(keep)'")
        }
        for (name, value) in [("--grace", grace), ("--lease", lease), ("--idle-exit", idleExit ?? "1s"), ("--stream-warn-after", streamWarnAfter)] {
            guard DurationText.seconds(value) != nil else {
                throw ValidationError("\(name) takes a duration like 500ms, 10s, 5m or 1h (at most 100 years), not '\(value)'")
            }
        }
        guard DurationText.seconds(lease)! >= 1 else { throw ValidationError("--lease must be at least 1s") }
        for path in allow {
            guard path.hasPrefix("/"), let resolved = JobAdmission.canonical(path), access(resolved, X_OK) == 0 else {
                throw ValidationError("--allow takes the absolute path of an executable file; '\(path)' is not one")
            }
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format takes text or json, not '\(logFormat)'") }
        if let metrics, Self.metricsAddress(metrics) == nil {
            throw ValidationError("--metrics takes a port (9464) or HOST:PORT (127.0.0.1:9464), not '\(metrics)'")
        }
    }

    /// `PORT` (on loopback) or `HOST:PORT`.
    static func metricsAddress(_ text: String) -> (host: String, port: Int)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard let portText = parts.last, let port = Int(portText), (0...65535).contains(port) else { return nil }
        let host = parts.count > 1 ? parts.dropLast().joined(separator: ":") : "127.0.0.1"
        return host.isEmpty ? nil : (host, port)
    }

    func run() async throws {
        // Past a file-size limit (ulimit -f), let writes fail with an error the
        // store reports and retries, instead of the signal killing the daemon.
        signal(SIGXFSZ, SIG_IGN)
        // A stream-mode process that exits closes its stdin pipe: writing to it
        // must be an error to handle, not a signal that kills the daemon.
        // (Commands get default signal handling back: Subprocess resets it.)
        signal(SIGPIPE, SIG_IGN)
        // Large outputs (megabytes per item) are allocated and freed all day:
        // with glibc's default the mmap threshold climbs to the largest block
        // freed, after which such buffers come from the heap and their memory
        // is never given back (290 MB idle after 15 MB outputs). A fixed
        // threshold keeps them mmapped, returned to the system when freed.
        _ = batch_set_mmap_threshold(256 << 10)
        // Kept for the daemon's lifetime: its signal source reopens the file on SIGHUP.
        var logReopener: LogFileReopener?
        if let logFile = logFile ?? ProcessInfo.processInfo.environment["BATCHD_LOG_FILE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            guard let reopener = LogFileReopener(path: logFile) else {
                FileHandle.standardError.write(Data("batchd: cannot open the log file \(logFile): \(String(cString: strerror(errno)))\n".utf8))
                throw ExitCode(74)
            }
            reopener.reopenOnHangup()
            logReopener = reopener
        }
        defer { withExtendedLifetime(logReopener) {} }
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { [logFormat] label in
            if logFormat == "json" { return JSONLogHandler(logLevel: level, label: label) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "batchd")
        let registry = PrometheusCollectorRegistry()
        if metrics != nil { MetricsSystem.bootstrap(DocumentedMetricsFactory(registry: registry)) }
        let store: any BatchStore
        do {
            store = try StoreFactory.open(StoreLocation.resolve(option: db))
        } catch {
            FileHandle.standardError.write(Data("batchd: \(error)\n".utf8))
            throw ExitCode(74)
        }
        let leaseDuration = DurationText.seconds(lease)!
        // Never more workers than the descriptor limit allows: past it every
        // start fails (or traps, in stream mode).
        let descriptorLimit = DescriptorBudget.raiseSoftLimit()
        let allowed = DescriptorBudget.workersAllowed(limit: descriptorLimit, open: DescriptorBudget.openCount())
        var workers = self.workers ?? ProcessInfo.processInfo.activeProcessorCount
        if workers > allowed {
            logger.warning("--workers \(workers) needs more file descriptors than the limit of \(descriptorLimit) allows (ulimit -n): running \(allowed) worker(s)")
            workers = allowed
        }
        let identity = ProcessIdentity.current
        let now = Date()
        let record = DaemonRecord(
            id: UUID().uuidString.lowercased(), host: identity.host, pid: identity.pid, processStart: identity.start,
            workers: workers, startedAt: now, heartbeatAt: now, uid: getuid(), machineID: identity.machineID,
            version: BatchVersion.number)
        do {
            try store.daemonRegister(record)
        } catch {
            FileHandle.standardError.write(Data("batchd: \(error)\n".utf8))
            throw ExitCode(74)
        }
        let faults = StoreFaultLog(logger: logger)
        let liveness = LoopLiveness()
        let maintenance = DaemonMaintenance(
            store: store, record: record, leaseDuration: leaseDuration, idleExit: idleExit.flatMap(DurationText.seconds),
            keep: keep == "never" ? nil : DurationText.seconds(keep), logger: logger, faults: faults,
            liveness: liveness)
        // At once, so that work of a daemon that died here is taken back before the first claim.
        maintenance.runOnce(now: now)
        var configuration = WorkerPoolConfiguration(
            owner: record.id, workers: workers, leaseDuration: leaseDuration,
            grace: .milliseconds(Int64(DurationText.seconds(grace)! * 1000)),
            streamAnswerWarning: DurationText.seconds(streamWarnAfter)!)
        configuration.liveness = liveness
        if !allow.isEmpty { configuration.admission = JobAdmission(allowing: allow) }
        let notifier = SystemdNotifier.fromEnvironment()
        if let notifier { configuration.onStopping = { notifier.send("STOPPING=1\nSTATUS=stopping") } }
        configuration.displayName = "batchd on \(record.host) (pid \(record.pid))"
        let pool = WorkerPool(store: store, handler: CommandHandler(), configuration: configuration, logger: logger, faults: faults)
        logger.info("serving \(store.location) with \(workers) worker(s), pid \(identity.pid)")
        // Services stop in reverse order: the pool drains first while maintenance keeps its leases alive.
        // (The systemd service stops last: the watchdog is fed while items drain.)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let watchdogPeriod = SystemdNotifier.watchdogPeriod()
        if let notifier {
            services.append(.init(service: SystemdService(
                notifier: notifier, watchdogPeriod: watchdogPeriod, liveness: liveness,
                status: { [workers] in
                    let (jobs, busy) = pool.activity()
                    return busy == 0 ? "idle, \(workers) worker(s)" : "\(busy) of \(workers) worker(s) busy on \(jobs) job(s)"
                },
                logger: logger)))
        }
        if let metrics, let address = Self.metricsAddress(metrics) {
            let endpoints = DaemonEndpoints(
                metrics: DaemonMetrics(registry: registry, store: store), liveness: liveness,
                livenessLimit: max(60, watchdogPeriod ?? 0), store: store)
            services.append(.init(service: MetricsServer(host: address.host, port: address.port, endpoints: endpoints, logger: logger)))
        }
        services.append(.init(service: maintenance, successTerminationBehavior: .gracefullyShutdownGroup))
        services.append(.init(service: pool))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        var failure: (any Error)?
        do {
            try await group.run()
        } catch {
            failure = error
            logger.error("stopped on an error: \(error)")
        }
        // Bounded: a store that does not answer must not hold up the exit (the
        // record of a daemon that is gone is removed by the next one).
        switch await offloaded(within: .seconds(2), { [id = record.id] in try store.daemonDeleteReleasingChunks(id: id) }) {
        case .success?: break
        case .failure(let error)?: logger.error("could not remove this daemon's record: \(error)")
        case nil: logger.error("the store did not answer within 2 s: this daemon's record stays until another daemon finds it gone")
        }
        logger.info("stopped")
        // A daemon that stopped on an error (the metrics port in use, say)
        // must not look like one that was asked to stop.
        if failure != nil { throw ExitCode(70) }
    }
}

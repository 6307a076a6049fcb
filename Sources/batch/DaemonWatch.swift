import BatchStore
import Foundation

/// Keeps a follower (`run`, `follow`, `wait`) from waiting in silence for a
/// daemon that is gone (issue 9): whenever its job can still make progress
/// and no live daemon serves the database, it starts one, as the command did
/// at its start, or, when it may not (`--no-autostart`), says so once on
/// stderr. A daemon SIGKILLed or stopped with `batch daemon stop` in the
/// middle of a job is replaced within about a second.
struct DaemonWatch {
    let store: any BatchStore
    let options: StoreOptions
    let job: JobID
    var interval: Duration = .seconds(1)

    /// Runs until cancelled.
    func run() async {
        let launcher = DaemonLauncher(store: store)
        var missedChecks = 0
        var warned = false
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            do {
                guard let current = try store.jobFetch(job), current.state.isRunnable else {
                    missedChecks = 0
                    continue
                }
                let owner = current.ownerUID ?? store.legacyOwner
                guard try !launcher.hasLiveDaemon(forOwner: owner) else {
                    missedChecks = 0
                    continue
                }
                missedChecks += 1
                if let refusal = launcher.refusal(forOwner: owner) {
                    if missedChecks >= 2 && !warned {
                        StandardError.line("batch: no daemon runs job \(job): \(refusal)")
                        warned = true
                    }
                } else if options.autostart {
                    try launcher.ensureRunning()
                    StandardError.line("batch: no daemon was serving \(store.location); started one for job \(job)")
                } else if missedChecks >= 2 && !warned {
                    // Two checks apart: a daemon being started by hand right now is not "missing".
                    StandardError.line(
                        "batch: no daemon serves \(store.location) and autostart is off: job \(job) waits until one does (batchd --db \(store.location))")
                    warned = true
                }
            } catch let error as CLIError {
                if !warned { StandardError.line("batch: \(error.message)") }
                warned = true
            } catch {
                // A store fault while checking: the follower itself reports what matters.
            }
        }
    }
}

/// Runs `body` with a `DaemonWatch` beside it.
func withDaemonWatch<T: Sendable>(
    store: any BatchStore, options: StoreOptions, job: JobID, _ body: @Sendable () async throws -> T
) async throws -> T {
    // Unstructured so that it runs beside `body`; cancelled on every way out.
    // On a server, daemons usually run on other hosts and each check is a
    // round trip: every 5 s rather than every second.
    let interval: Duration = if case .postgres = store.location { .seconds(5) } else { .seconds(1) }
    let watch = Task { await DaemonWatch(store: store, options: options, job: job, interval: interval).run() }
    defer { watch.cancel() }
    return try await body()
}

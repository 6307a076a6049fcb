import BatchWorker
import Foundation
import Logging
import ServiceLifecycle

/// Tells systemd how the daemon is (`Type=notify`): `READY=1` once it serves
/// the database, a `STATUS=` line with what runs, `WATCHDOG=1` at half the
/// `WatchdogSec=` period while every loop of the daemon is alive
/// (`LoopLiveness`), and `STOPPING=1` when shutdown begins.
///
/// First in the service group, so the last to stop: the watchdog is fed
/// while running items drain. A wedged loop (one store call stuck past the
/// period) stops the feeding, and systemd restarts the daemon; a daemon
/// waiting out a store fault is not wedged (each attempt ends and the next
/// begins) and is fed, since a restart would not help it.
struct SystemdService: Service {
    let notifier: SystemdNotifier
    let watchdogPeriod: TimeInterval?
    let liveness: LoopLiveness
    let status: @Sendable () -> String
    let logger: Logger

    func run() async throws {
        notifier.send("READY=1\nSTATUS=\(status())")
        // Half the watchdog period, as sd_watchdog_enabled(3) advises; the
        // status line is refreshed as often, and at least every 5 s.
        let tick = min(watchdogPeriod.map { $0 / 2 } ?? 5, 5)
        var lastStatus = ""
        var reported: String?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let line = status()
            if line != lastStatus {
                notifier.send("STATUS=\(line)")
                lastStatus = line
            }
            if let watchdogPeriod {
                if let problem = liveness.problem(limit: watchdogPeriod) {
                    if reported != problem { logger.error("not feeding systemd's watchdog: \(problem)") }
                    reported = problem
                } else {
                    notifier.send("WATCHDOG=1")
                    reported = nil
                }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int(tick * 1000))) }
        }
    }
}

import BatchStore
import Foundation
import GRDB
import Testing

extension EndToEnd {
    /// The store seam (issue 12) through the real binaries: a daemon whose
    /// store is blocked still stops on SIGTERM, and the autostarted daemon
    /// finds its store in its environment, not in its argv.
    @Suite struct StoreSeam {
        /// Another process holds the database's write lock for longer than
        /// the grace: every write of the daemon waits for its busy timeout
        /// (30 s). Those waits ran on Swift's two cooperative threads and
        /// froze the daemon, SIGTERM's grace timer included; now they run on
        /// threads of their own, and the daemon stops within its grace and a
        /// few seconds, while the lock is still held (before: 30 s and more).
        @Test func sigtermStopsADaemonWhoseStoreIsLocked() throws {
            let env = BatchEnvironment()
            let daemon = try env.startDaemon(["--workers", "2", "--grace", "1s"])
            let id = try #require(JobID(parsing: try env.batch(
                ["submit", "--chunksize", "1", "--", "sh", "-c", "sleep 0.2", "_"],
                input: (1...60).map { "\($0)\n" }.joined()).out.trimmingCharacters(in: .whitespacesAndNewlines)))
            _ = try TestProcess.eventually { try env.store().jobFetch(id)!.finishedCount >= 2 }
            let queue = try DatabaseQueue(path: env.dbPath)
            let locked = DispatchSemaphore(value: 0)
            let release = DispatchSemaphore(value: 0)
            let holder = Thread {
                try? queue.inDatabase { db in
                    try db.execute(sql: "BEGIN IMMEDIATE")
                    locked.signal()
                    _ = release.wait(timeout: .now() + 40)
                    try db.execute(sql: "ROLLBACK")
                }
            }
            holder.start()
            defer { release.signal() }
            try #require(locked.wait(timeout: .now() + 10) == .success)
            // Let the daemon's writes (results, heartbeats) start waiting on the lock.
            Thread.sleep(forTimeInterval: 2)
            let heldFor = ProcessInfo.processInfo.systemUptime
            daemon.signal(SIGTERM)
            let status = daemon.wait(timeout: 30)
            let stoppedAfter = ProcessInfo.processInfo.systemUptime - heldFor
            #expect(status != nil, "batchd did not stop: \(daemon.stderrText)")
            // Grace 1 s, then at most a few bounded waits for the store: 2 s for
            // the last results, 1 s per chunk handed back, 2 s each for the chunks
            // and the daemon's record.
            #expect(stoppedAfter < 12, "SIGTERM took \(stoppedAfter) s with the store locked (grace 1 s): \(daemon.stderrText)")
            release.signal()
            // Nothing was lost: a new daemon finishes the job.
            try env.startDaemon(["--workers", "2"])
            let job = try #require(try env.waitForJobEnd(id))
            #expect(job.state == .complete && job.finishedCount == 60)
        }
    }
}

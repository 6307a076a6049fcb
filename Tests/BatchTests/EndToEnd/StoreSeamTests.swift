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
            // It waits for the lock: a daemon's commit may hold it at that moment
            // (without a busy timeout, BEGIN IMMEDIATE failed at once, and the
            // test with it, once in a full run).
            var holding = Configuration()
            holding.busyMode = .timeout(10)
            let queue = try DatabaseQueue(path: env.dbPath, configuration: holding)
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

        /// A daemon in another pid namespace with the same hostname (a
        /// container): its pid means nothing here. Judged by hostname, each
        /// daemon found the other's pid dead (or someone else's) and took its
        /// chunks and removed its record every second; judged by boot id and
        /// pid namespace (`Machine`), they leave each other to heartbeats.
        @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "a pid namespace needs root"))
        func aDaemonInAnotherPidNamespaceIsNotDeclaredDead() throws {
            let env = BatchEnvironment()
            let local = try env.startDaemon(["--workers", "1"])
            let other = try TestProcess(
                URL(fileURLWithPath: "/usr/bin/unshare"),
                ["--pid", "--fork", "--kill-child", "--mount-proc", Binaries.batchd.path, "--db", env.dbPath, "--workers", "1"],
                environment: env.environment, directory: env.directory.path)
            other.closeInput()
            defer {
                other.signal(SIGKILL)
                other.wait(timeout: 10)
            }
            try #require(try TestProcess.eventually { try env.store().daemonsList().count == 2 }, "\(other.stderrText)")
            let daemons = try env.store().daemonsList()
            let inner = try #require(daemons.first { $0.pid != local.pid })
            let outer = try #require(daemons.first { $0.pid == local.pid })
            #expect(inner.machineID != nil && inner.machineID != outer.machineID)
            // Both daemons' upkeep ran several rounds (each looks at the other's record).
            let beats = { try env.store().daemonsList().map { ($0.id, $0.heartbeatAt) } }
            let before = Dictionary(uniqueKeysWithValues: try beats())
            let ran = try TestProcess.eventually(timeout: 20) {
                try beats().filter { id, at in at.timeIntervalSince(before[id] ?? at) >= 2 }.count == 2
            }
            try #require(ran, "the daemons' upkeep did not run: \(local.stderrText) \(other.stderrText)")
            #expect(try env.store().daemonsList().count == 2, "a daemon removed the other's record")
            #expect(!local.stderrText.contains("is gone") && !other.stderrText.contains("is gone"), "\(local.stderrText)\n\(other.stderrText)")
        }
    }
}

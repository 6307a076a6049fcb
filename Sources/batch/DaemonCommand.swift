import ArgumentParser
import BatchStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "See or stop the daemons that serve the database.",
        discussion: """
            Examples:
              batch daemon status
              batch daemon stop
            """,
        subcommands: [DaemonStatusCommand.self, DaemonStopCommand.self])
}

struct DaemonStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List the daemons serving the database: pid, host, workers, since when, what they hold.",
        discussion: """
            Example:
              batch daemon status

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Flag(help: "One JSON object per daemon: id, host, pid, version, workers, started_at, heartbeat_at, alive, chunks ([{job, first_line, last_line}]).")
    var json = false

    struct Summary: Encodable {
        struct Chunk: Encodable {
            var job: Int64
            var firstLine: Int64
            var lastLine: Int64
            enum CodingKeys: String, CodingKey {
                case job
                case firstLine = "first_line"
                case lastLine = "last_line"
            }
        }

        var id: String
        var host: String
        var pid: Int32
        /// Its release (nil: a release before 0.1.0, which did not record it).
        var version: String?
        var workers: Int
        var startedAt: String
        var heartbeatAt: String
        /// On this host: the process is running; elsewhere: it beat within 10 s.
        var alive: Bool
        var chunks: [Chunk]

        enum CodingKeys: String, CodingKey {
            case id, host, pid, version, workers, alive, chunks
            case startedAt = "started_at"
            case heartbeatAt = "heartbeat_at"
        }
    }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            let chunks = try db.chunksLeasedList()
            let now = Date()
            let format = ISO8601DateFormatter()
            let summaries = try db.daemonsList().map { daemon in
                Summary(
                    id: daemon.id, host: daemon.host, pid: daemon.pid, version: daemon.version, workers: daemon.workers,
                    startedAt: format.string(from: daemon.startedAt), heartbeatAt: format.string(from: daemon.heartbeatAt),
                    alive: daemon.isAlive(now: now, heartbeatWithin: 10),
                    chunks: chunks.filter { $0.owner == daemon.id }.map {
                        .init(job: $0.job.rawValue, firstLine: $0.firstLine, lastLine: $0.lastLine)
                    })
            }
            var out = OutputBuffer(fd: 1)
            if json {
                for summary in summaries { out.append(JSONLine.encode(summary) + "\n") }
            } else if summaries.isEmpty {
                out.append("no daemon serves \(db.location)\n")
            } else {
                for s in summaries {
                    let holding = s.chunks.isEmpty ? "idle"
                        : s.chunks.map { "job \($0.job) lines \($0.firstLine)-\($0.lastLine)" }.joined(separator: ", ")
                    out.append("pid \(s.pid) on \(s.host)\(s.alive ? "" : " (not responding)"): \(s.workers) workers, since \(s.startedAt); \(holding)\n")
                }
                // A daemon of another release may lack what this CLI asks of
                // it (or do what this one no longer does): say so.
                for s in summaries where s.version != BatchVersion.number {
                    out.append("note: pid \(s.pid) on \(s.host) runs batchd \(s.version ?? "older than 0.1.0"); this batch is \(BatchVersion.number)\n")
                }
            }
            out.flush()
        }
    }
}

struct DaemonStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop this host's daemons gracefully (SIGTERM) and wait until they are gone.",
        discussion: """
            Each daemon stops claiming, lets running items finish for its grace period and hands the rest \
            back; jobs go on when a daemon serves the database again.

            Example:
              batch daemon stop

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Option(help: "How long to wait for them to exit.")
    var timeout: String = "60s"

    func validate() throws {
        guard DurationText.seconds(timeout) != nil else {
            throw ValidationError("--timeout takes a duration like 30s or 5m, not '\(timeout)'")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            // Only daemons whose pids mean something here can be signalled.
            let local = try db.daemonsList().filter {
                $0.machine.sharesPids(with: .current) && $0.isAlive(now: Date(), heartbeatWithin: 0)
            }
            for daemon in local { kill(daemon.pid, SIGTERM) }
            let deadline = Date().addingTimeInterval(DurationText.seconds(timeout) ?? 60)
            var running = local
            while !running.isEmpty && Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
                running = running.filter { $0.isAlive(now: Date(), heartbeatWithin: 0) }
            }
            guard running.isEmpty else {
                throw CLIError(.timedOut, "\(running.count) daemon(s) still running after \(timeout): pid \(running.map { String($0.pid) }.joined(separator: ", "))")
            }
            StandardError.line("batch: stopped \(local.count) daemon(s)")
        }
    }
}

import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// batchd as operators run it: metrics a real Prometheus reads, health
    /// endpoints, systemd's notify protocol, JSON logs, log rotation, backups
    /// and version skew.
    @Suite struct ServiceOperation {
        /// A job whose items wait: its command is not one this daemon's
        /// `--allow` lets run, so the backlog holds still while it is read.
        static func waitingJob(_ env: BatchEnvironment, items: Int) throws -> JobID {
            let submit = try env.batch(["submit", "--", "sleep", "1"], input: (1...items).map { "\($0)\n" }.joined())
            try #require(submit.status == 0, "\(submit.err)")
            return try #require(JobID(parsing: submit.out.trimmingCharacters(in: .whitespacesAndNewlines)))
        }

        @Test func promtoolAcceptsAScrapeTakenMidJob() throws {
            let env = BatchEnvironment()
            let daemon = try env.startDaemon(["--workers", "2", "--metrics", "0"])
            let address = try #require(try HTTPProbe.metricsAddress(of: daemon))
            // About 8 s of work for two workers: the scrape comes well before the end, even on a busy machine.
            let run = try env.start(["run", "--", "sh", "-c", "sleep 0.02; echo $1; exit $(($1 % 5 == 0))", "_"], input: (1...800).map { "\($0)\n" }.joined())
            #expect(TestProcess.eventually { run.stdoutText.split(separator: "\n").count >= 20 })
            let scrape = try HTTPProbe.request("http://\(address)/metrics")
            #expect(run.isRunning, "the scrape was taken mid-job")
            #expect(scrape.status == 200)
            for name in ["batch_items{state=\"pending\"}", "batch_items{state=\"running\"}", "batch_oldest_pending_seconds",
                         "batch_jobs{state=\"open\"}", "batch_item_duration_seconds_bucket", "batch_build_info{",
                         "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"] {
                #expect(scrape.body.contains(name), "\(name) missing")
            }
            let file = env.directory.file("scrape.txt")
            try scrape.body.write(toFile: file, atomically: true, encoding: .utf8)
            let promtool = try TestProcess(URL(fileURLWithPath: "/usr/bin/promtool"), ["check", "metrics"], environment: env.environment, stdinFile: file)
            #expect(promtool.wait(timeout: 30) == 0, "promtool: \(promtool.stdoutText) \(promtool.stderrText)")
            #expect(run.wait(timeout: 120) == 1)
        }

        @Test func aRealPrometheusScrapesTheBacklog() throws {
            let env = BatchEnvironment()
            let job = try Self.waitingJob(env, items: 37)
            let daemon = try env.startDaemon(["--metrics", "0", "--allow", "/bin/true"])
            let address = try #require(try HTTPProbe.metricsAddress(of: daemon))
            let port = 20_000 + Int.random(in: 0..<20_000)
            let config = env.directory.file("prometheus.yml")
            try """
                global:
                  scrape_interval: 1s
                scrape_configs:
                  - job_name: batchd
                    static_configs:
                      - targets: ['\(address)']
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let prometheus = try TestProcess(
                URL(fileURLWithPath: "/usr/bin/prometheus"),
                ["--config.file=\(config)", "--storage.tsdb.path=\(env.directory.file("tsdb"))",
                 "--web.listen-address=127.0.0.1:\(port)"],
                environment: env.environment)
            defer { prometheus.signal(SIGTERM); prometheus.wait(timeout: 30) }
            func query(_ expression: String) -> String? {
                let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expression
                guard let answer = try? HTTPProbe.request("http://127.0.0.1:\(port)/api/v1/query?query=\(encoded)"),
                      answer.status == 200,
                      let json = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any],
                      let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
                      let value = result.first?["value"] as? [Any], value.count == 2
                else { return nil }
                return value[1] as? String
            }
            #expect(TestProcess.eventually(timeout: 60) { query("up{job=\"batchd\"}") == "1" }, "\(prometheus.stderrText.suffix(2000))")
            let stored = try #require(try env.store().jobFetch(job)).pendingCount
            #expect(stored == 37)
            #expect(TestProcess.eventually(timeout: 30) { query("batch_items{state=\"pending\"}") == String(stored) })
        }

        @Test func healthAndReadinessAnswerAsDescribed() throws {
            let env = BatchEnvironment()
            let daemon = try env.startDaemon(["--metrics", "0"])
            let address = try #require(try HTTPProbe.metricsAddress(of: daemon))
            #expect(try HTTPProbe.request("http://\(address)/healthz").status == 200)
            #expect(try HTTPProbe.request("http://\(address)/readyz").status == 200)
            for path in ["/metrics", "/healthz", "/readyz", "/nowhere"] {
                let get = try HTTPProbe.request("http://\(address)\(path)")
                let head = try HTTPProbe.request("http://\(address)\(path)", method: "HEAD")
                #expect(head.status == get.status && head.body.isEmpty, "HEAD \(path)")
            }
            #expect(try HTTPProbe.request("http://\(address)/nowhere").status == 404)
            // Another process holds the write lock for longer than a second:
            // readers go on, a writer cannot.
            let holder = try TestProcess(URL(fileURLWithPath: "/usr/bin/sqlite3"), [env.dbPath], environment: env.environment)
            holder.write("BEGIN EXCLUSIVE;\nSELECT 'locked';\n")
            #expect(TestProcess.eventually { holder.stdoutText.contains("locked") })
            let blocked = try HTTPProbe.request("http://\(address)/readyz")
            #expect(blocked.status == 503)
            #expect(blocked.body.hasPrefix("cannot write to the store") && blocked.body.split(separator: "\n").count == 1, "\(blocked.body)")
            #expect(try HTTPProbe.request("http://\(address)/healthz").status == 200, "alive, though not ready")
            holder.write("ROLLBACK;\n.quit\n")
            holder.closeInput()
            #expect(holder.wait(timeout: 30) == 0)
            #expect(try HTTPProbe.request("http://\(address)/readyz").status == 200)
        }

        @Test func systemdNotifyMessagesArriveOnTheSocket() throws {
            let env = BatchEnvironment()
            let socket = try NotifySocket(path: env.directory.file("notify.sock"))
            var environment = env.environment
            environment["NOTIFY_SOCKET"] = socket.path
            environment["WATCHDOG_USEC"] = "1000000"
            let daemon = try TestProcess(Binaries.batchd, ["--db", env.dbPath], environment: environment)
            daemon.closeInput()
            let started = socket.receive(timeout: 30) { messages in messages.filter { $0 == "WATCHDOG=1" }.count >= 2 }
            #expect(started.first?.hasPrefix("READY=1") == true, "\(started)")
            #expect(started.contains { $0.contains("STATUS=idle") }, "\(started)")
            #expect(started.filter { $0 == "WATCHDOG=1" }.count >= 2, "fed at half the 1 s period: \(started)")
            daemon.signal(SIGTERM)
            let stopping = socket.receive(timeout: 30) { $0.contains { $0.hasPrefix("STOPPING=1") } }
            #expect(stopping.contains { $0.hasPrefix("STOPPING=1") }, "\(stopping)")
            #expect(daemon.wait(timeout: 30) == 0)
        }

        @Test func everyJSONLogLineParses() throws {
            let env = BatchEnvironment()
            let job = try Self.waitingJob(env, items: 3)
            let daemon = try env.startDaemon(["--log-format", "json", "--allow", "/bin/true"])
            #expect(TestProcess.eventually { daemon.stderrText.contains("not run here") })
            daemon.signal(SIGTERM)
            #expect(daemon.wait(timeout: 30) == 0)
            let lines = daemon.stderrText.split(separator: "\n")
            #expect(lines.count >= 3)
            var refusal: [String: Any]?
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object != nil, "not a JSON object: \(line)")
                #expect(object?["time"] is String && object?["level"] is String && object?["message"] is String, "\(line)")
                if (object?["message"] as? String)?.contains("not run here") == true { refusal = object }
            }
            #expect(refusal?["job"] as? String == "\(job)", "the job is a field of its own")
            #expect((refusal?["time"] as? String).flatMap { try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0) } != nil)
        }

        @Test func sighupReopensTheLogFile() throws {
            let env = BatchEnvironment()
            let log = env.directory.file("batchd.log")
            // Signals only once the daemon handles them: it says READY=1 after
            // its signal handlers are set (before that, SIGTERM's default
            // action would end it, not its graceful shutdown).
            let socket = try NotifySocket(path: env.directory.file("notify.sock"))
            var environment = env.environment
            environment["NOTIFY_SOCKET"] = socket.path
            let daemon = try TestProcess(Binaries.batchd, ["--db", env.dbPath, "--log-file", log], environment: environment)
            daemon.closeInput()
            let ready = socket.receive(timeout: 30) { $0.contains { $0.hasPrefix("READY=1") } }
            #expect(ready.contains { $0.hasPrefix("READY=1") }, "\(ready)")
            #expect(TestProcess.eventually { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("serving") })
            try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
            daemon.signal(SIGHUP)
            #expect(TestProcess.eventually { FileManager.default.fileExists(atPath: log) }, "reopened (created again)")
            daemon.signal(SIGTERM)
            #expect(daemon.wait(timeout: 30) == 0)
            let rotated = try String(contentsOfFile: log + ".1", encoding: .utf8)
            let current = try String(contentsOfFile: log, encoding: .utf8)
            #expect(rotated.contains("serving") && !rotated.contains("stopped"))
            #expect(current.contains("stopped"), "lines after SIGHUP go to the new file: \(current)")
        }

        @Test func aBackupTakenMidJobOpensAndListsTheJob() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            // About 8 s of work for two workers: the backup comes well before the end, even on a busy machine.
            let run = try env.start(["run", "--", "sh", "-c", "sleep 0.04"], input: (1...400).map { "\($0)\n" }.joined())
            #expect(TestProcess.eventually { (try? env.store().jobsList(limit: 1).first?.finishedCount ?? 0) ?? 0 > 10 })
            let copy = env.directory.file("copy.db")
            let backup = try env.batch(["backup", copy])
            #expect(backup.status == 0, "\(backup.err)")
            #expect(run.isRunning, "taken mid-job")
            let check = try TestProcess(URL(fileURLWithPath: "/usr/bin/sqlite3"), [copy, "PRAGMA integrity_check"], environment: env.environment)
            check.closeInput()
            #expect(check.wait(timeout: 30) == 0 && check.stdoutText == "ok\n", "\(check.stdoutText)")
            let listed = try env.batch(["list", "--db", copy])
            #expect(listed.status == 0 && listed.out.contains("sh -c"), "\(listed.out) \(listed.err)")
            let copied = try #require(try SQLiteStore(path: copy).jobsList(limit: 1).first)
            #expect(copied.itemCount == 400 && copied.finishedCount < 400)
            #expect(try env.batch(["backup", copy]).status == 73, "an existing file is never overwritten")
            #expect(run.wait(timeout: 120) == 0)
        }

        @Test func aDatabaseOfANewerReleaseIsRefusedUnchanged() throws {
            let env = BatchEnvironment()
            #expect(try env.batch(["submit", "--", "true"], input: "a\n").status == 0)
            let future = try TestProcess(
                URL(fileURLWithPath: "/usr/bin/sqlite3"),
                [env.dbPath, "INSERT INTO grdb_migrations VALUES ('v99: from the future'); PRAGMA wal_checkpoint(TRUNCATE);"],
                environment: env.environment)
            future.closeInput()
            #expect(future.wait(timeout: 30) == 0, "\(future.stderrText)")
            let before = try Data(contentsOf: URL(fileURLWithPath: env.dbPath))
            let list = try env.batch(["list"])
            #expect(list.status == 74)
            #expect(list.err.split(separator: "\n").count == 1)
            #expect(list.err.contains("v99: from the future") && list.err.contains(BatchVersion.number), "both versions named: \(list.err)")
            let daemon = try TestProcess(Binaries.batchd, ["--db", env.dbPath], environment: env.environment)
            daemon.closeInput()
            #expect(daemon.wait(timeout: 30) == 74)
            #expect(try Data(contentsOf: URL(fileURLWithPath: env.dbPath)) == before, "not a byte changed")
        }

        @Test func daemonStatusNamesEachDaemonsRelease() throws {
            let env = BatchEnvironment()
            let daemon = try env.startDaemon()
            let json = try env.batch(["daemon", "status", "--json"])
            #expect(json.out.contains("\"version\":\"\(BatchVersion.number)\""), "\(json.out)")
            #expect(!json.out.contains("note:"))
            var older = try #require(try env.store().daemonsList().first { $0.pid == daemon.pid })
            older.id = "older"
            older.version = "0.0.1"
            try env.store().daemonRegister(older)
            let text = try env.batch(["daemon", "status"])
            #expect(text.out.contains("runs batchd 0.0.1; this batch is \(BatchVersion.number)"), "\(text.out)")
        }
    }
}

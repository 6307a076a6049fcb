import BatchStore
import Foundation
import Testing

extension EndToEnd {
    @Suite struct DaemonControl {
        @Test func statusShowsWhatEachDaemonHoldsAndStopIsGraceful() throws {
            let env = BatchEnvironment()
            let daemon = try env.startDaemon(["--workers", "2", "--grace", "10s"])
            let submitted = try env.batch(["submit", "--chunksize", "1", "--", "sh", "-c", "sleep 1; echo $1", "_"], input: "1\n2\n3\n")
            let id = try #require(JobID(parsing: submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)))
            try #require(TestProcess.eventually { try env.store().chunksLeasedList().count == 2 })

            let status = try env.batch(["daemon", "status", "--json"])
            #expect(status.status == 0, "\(status.err)")
            let records = Failures.jsonLines(status.out)
            #expect(records.count == 1)
            #expect(records.first?["pid"] as? Int == Int(daemon.pid))
            #expect(records.first?["alive"] as? Bool == true)
            let chunks = records.first?["chunks"] as? [[String: Any]] ?? []
            #expect(chunks.map { $0["first_line"] as? Int } == [1, 2])
            #expect(chunks.allSatisfy { $0["job"] as? Int == Int(id.rawValue) })

            let jobStatus = try #require(Failures.jsonLines(try env.batch(["status", "--json", id.description]).out).first)
            #expect(jobStatus["claimed"] as? Int == 2, "two items running, one waiting for a free worker")
            #expect(jobStatus["daemons"] as? [Int] == [Int(daemon.pid)])

            let stop = try env.batch(["daemon", "stop"])
            #expect(stop.status == 0, "\(stop.err)")
            #expect(daemon.wait(timeout: 30) == 0)
            // The two running items finished within the grace period; the third was never started.
            #expect(try env.store().jobFetch(id)?.finishedCount == 2)
            let after = try env.batch(["daemon", "status"])
            #expect(after.out.hasPrefix("no daemon serves"))
        }

        @Test func prometheusMetricsOnLoopback() throws {
            let env = BatchEnvironment()
            let daemon = try env.startDaemon(["--workers", "2", "--metrics", "0"])
            try #require(TestProcess.eventually { daemon.stderrText.contains("metrics on http://127.0.0.1:") })
            let address = try #require(
                daemon.stderrText.components(separatedBy: "metrics on http://").last?.components(separatedBy: "/metrics").first)
            #expect(address.hasPrefix("127.0.0.1:"), "bound to loopback by default")
            let run = try env.batch(["run", "--", "sh", "-c", "exit $(($1 % 4 == 0))", "_"], input: (1...12).map { "\($0)\n" }.joined())
            #expect(run.status == 1)
            let fetch = try TestProcess(
                URL(fileURLWithPath: "/usr/bin/env"),
                ["python3", "-c", "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())",
                 "http://\(address)/metrics"],
                environment: env.environment)
            fetch.closeInput()
            #expect(fetch.wait(timeout: 30) == 0, "\(fetch.stderrText)")
            let text = fetch.stdoutText
            #expect(text.contains(#"batch_items_done_total{status="succeeded"} 9"#), "\(text)")
            #expect(text.contains(#"batch_items_done_total{status="failed"} 3"#), "\(text)")
            #expect(text.contains("batch_items_running 0"))
            #expect(text.contains("batch_claim_duration_seconds_count"))
            #expect(text.contains("batch_lease_takeovers_total 0"))
        }
    }
}

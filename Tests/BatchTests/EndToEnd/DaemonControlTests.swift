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

            let stop = try env.batch(["daemon", "stop"])
            #expect(stop.status == 0, "\(stop.err)")
            #expect(daemon.wait(timeout: 30) == 0)
            // The two running items finished within the grace period; the third was never started.
            #expect(try env.store().jobFetch(id)?.finishedCount == 2)
            let after = try env.batch(["daemon", "status"])
            #expect(after.out.hasPrefix("no daemon serves"))
        }
    }
}

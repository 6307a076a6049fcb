import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// results, logs, rm and gc against the real binaries.
    @Suite struct Housekeeping {
        @Test func resultsExportAndItemLogs() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let script = "if [ $1 = 2 ]; then echo 'bad, \"two\"' >&2; exit 4; fi; printf 'out %s\\n' \"$1\""
            let submitted = try env.batch(["submit", "--", "sh", "-c", script, "_"], input: "1\n2\n3\n")
            let id = submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)
            _ = try env.batch(["wait", id])

            let text = try env.batch(["results", id])
            #expect(text.out == "out 1\nout 3\n")
            // Failures are not silently left out of a text export.
            #expect(text.err.contains("1 failed item(s) are not in this output"), "\(text.err)")
            // --failed in text: the failed items themselves, to be run again.
            #expect(try env.batch(["results", id, "--failed"]).out == "2\n")
            let csv = try env.batch(["results", id, "--format", "csv"]).out
            #expect(csv == """
                line,status,exit_status,signal,attempts,reason,output,input,stderr
                1,succeeded,0,,1,,"out 1
                ",1,
                2,failed,4,,1,,,2,"bad, ""two""
                "
                3,succeeded,0,,1,,"out 3
                ",3,

                """)
            let failed = Failures.jsonLines(try env.batch(["results", id, "--failed", "--format", "ndjson"]).out)
            #expect(failed.map { $0["line"] as? Int } == [2])
            #expect(failed.first?["input"] as? String == "2")
            #expect(failed.first?["error"] as? String == "bad, \"two\"\n")

            let logs = try env.batch(["logs", id, "2"])
            #expect(logs.status == 0)
            #expect(logs.out.contains("input:    2\n"))
            #expect(logs.out.contains("status:   failed (exit status 4: bad, \"two\")"), "\(logs.out)")
            #expect(logs.out.contains("stderr:\nbad, \"two\"\n"))
            #expect(try env.batch(["logs", id, "9"]).status == 3)
        }

        @Test func removeAndCollectGarbage() throws {
            let env = BatchEnvironment()
            let open = try env.start(["submit", "--", "echo"], keepInputOpen: true)
            open.write("a\n")
            let store = try env.store()
            try #require(TestProcess.eventually { try store.jobsList(limit: 1).first?.itemCount == 1 })
            let openID = try #require(try store.jobsList(limit: 1).first?.id)
            let refused = try env.batch(["rm", openID.description])
            #expect(refused.status == 4, "a running job needs --force: \(refused.err)")
            open.closeInput()
            open.wait()

            let ended = try env.batch(["submit", "--", "echo"], input: "")
            let endedID = ended.out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try env.batch(["rm", endedID]).status == 0)
            #expect(try env.batch(["status", endedID]).status == 3)

            let another = try env.batch(["submit", "--", "echo"], input: "").out.trimmingCharacters(in: .whitespacesAndNewlines)
            let gc = try env.batch(["gc", "--older-than", "0"])
            #expect(gc.status == 0, "\(gc.err)")
            #expect(gc.err.contains("removed 1 job"), "\(gc.err)")
            #expect(try env.batch(["status", another]).status == 3)
            #expect(try store.jobFetch(openID) != nil, "the sealed job, still to be run, stays")
            let running = Failures.jsonLines(try env.batch(["list", "--json", "--state", "running"]).out)
            #expect(running.map { $0["id"] as? Int } == [Int(openID.rawValue)])
            #expect(try env.batch(["list", "--state", "complete"]).out.split(separator: "\n").count == 1, "the header only")
            #expect(try env.batch(["list", "--state", "done"]).status == 64)
            #expect(try env.batch(["rm", "--force", openID.description]).status == 0)
            #expect(try store.jobsList(limit: 10).isEmpty)
        }
    }
}

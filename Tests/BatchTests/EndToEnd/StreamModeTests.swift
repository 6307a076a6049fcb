import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// `--stream`: one long-lived process per worker, one answer line per item.
    @Suite struct StreamMode {
        @Test func longLivedProcessAnswersEveryItemInOrder() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let count = 5000
            let run = try env.batch(["run", "--stream", "--", "sed", "-u", "s/^/seen /"], input: (1...count).map { "\($0)\n" }.joined())
            #expect(run.status == 0, "\(run.err)")
            #expect(run.out == (1...count).map { "seen \($0)\n" }.joined())
            let unordered = try env.batch(["run", "--stream", "--unordered", "--", "cat"], input: (1...count).map { "\($0)\n" }.joined())
            #expect(unordered.out.split(separator: "\n").sorted() == (1...count).map { "\($0)" }.sorted())
        }

        @Test func aProcessThatExitsFailsOnlyTheItemItWasOn() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let script = "while read x; do [ $x = 4 ] && { echo dying >&2; exit 3; }; echo $((x * 10)); done"
            let run = try env.batch(["run", "--stream", "--json", "--", "sh", "-c", script], input: (1...10).map { "\($0)\n" }.joined())
            #expect(run.status == 1)
            let records = Failures.jsonLines(run.out)
            #expect(records.map { $0["line"] as? Int } == Array(1...10))
            #expect(records.filter { $0["status"] as? String == "failed" }.map { $0["line"] as? Int } == [4])
            #expect(records[3]["reason"] as? String == "the stream process exited before answering")
            #expect(records[3]["error"] as? String == "dying\n")
            #expect(records[9]["output"] as? String == "100\n", "a new process took the rest")
        }

        /// A slot claims its job's next chunk and writes its items while the
        /// process still answers the current one: when the process dies with
        /// a chunk fed ahead, that chunk goes back and every item still gets
        /// exactly one result, its own.
        @Test func aProcessThatDiesWithTheNextChunkFedAheadLosesNothing() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let marker = env.directory.file("died")
            // The first process past line 6000 dies (once): by then chunks are
            // sized from measured times, and the next one is fed ahead.
            let script = "while read x; do [ $x -gt 6000 ] && [ ! -e \(marker) ] && touch \(marker) && exit 1; echo got-$x; done"
            let count = 12_000
            let run = try env.batch(
                ["run", "--stream", "--retries", "1", "--retry-delay", "10ms", "--", "sh", "-c", script],
                input: (1...count).map { "\($0)\n" }.joined(), timeout: 120)
            #expect(run.status == 0, "\(run.err)")
            #expect(FileManager.default.fileExists(atPath: marker), "a process did die")
            #expect(run.out == (1...count).map { "got-\($0)\n" }.joined())
            let id = try #require(try env.store().jobsList(limit: 1).first?.id)
            #expect(try env.store().jobFetch(id)?.finishedCount == Int64(count))
        }

        /// A chunk's items can be more than the pipes to and from the process
        /// hold: the slot reads answers all the while the next chunk is
        /// written. (It waited for that write at the end of each chunk, while
        /// the process, its stdout full, read no more: items of 200 bytes
        /// through `cat` stopped after about 2,000.)
        @Test func chunksLargerThanThePipesDoNotHang() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let input = (1...20_000).map { "\($0)-" + String(repeating: "x", count: 200) + "\n" }.joined()
            let run = try env.batch(["run", "--stream", "--chunksize", "1000", "--", "cat"], input: input, timeout: 120)
            #expect(run.status == 0, "\(run.err)")
            #expect(run.out == input)
        }

        @Test func retriesAndTimeoutsApplyPerItem() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "1"])
            // Line 3 crashes the first process only; line 5 hangs every time.
            let script = "while read x; do [ $x = 3 ] && [ ! -e crashed ] && touch crashed && exit 1; [ $x = 5 ] && sleep 30; echo got-$x; done"
            let run = try env.batch(
                ["run", "--stream", "--json", "--retries", "1", "--retry-delay", "10ms", "--timeout", "400ms", "--", "sh", "-c", script],
                input: (1...6).map { "\($0)\n" }.joined(), timeout: 60)
            #expect(run.status == 1, "\(run.err)")
            let records = Failures.jsonLines(run.out)
            #expect(records.map { $0["status"] as? String } == ["succeeded", "succeeded", "succeeded", "succeeded", "failed", "succeeded"])
            #expect(records[2]["attempts"] as? Int == 2)
            #expect((records[4]["reason"] as? String)?.contains("timed out") == true)
            #expect(records[4]["attempts"] as? Int == 2)
        }
    }
}

import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// Python Pool's classic example with three workers: items 1, 5, 3, each
    /// sleeping 0.$item seconds and printing item + 2. Timings are checked
    /// only as order and grouping, with wide margins.
    @Suite struct ClassicExample {
        static let command = ["--chunksize", "1", "--", "sh", "-c", "sleep 0.$1; echo $(($1+2))", "_"]
        static let input = "1\n5\n3\n"

        @Test func orderedRunPrintsLikeImap() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "3"])
            let run = try env.start(["run"] + Self.command, input: Self.input)
            #expect(run.wait() == 0, "stderr: \(run.stderrText)")
            let lines = run.lines
            #expect(lines.map(\.text) == ["3", "7", "5"])
            guard lines.count == 3 else { return }
            // 3 at ~0.1 s; 7 and 5 together at ~0.5 s (5 was ready at ~0.3 s but waits for 7).
            #expect(lines[1].time - lines[0].time > 0.2, "7 came too soon after 3: \(lines)")
            #expect(lines[2].time - lines[1].time < 0.15, "7 and 5 should arrive together: \(lines)")
        }

        @Test func unorderedRunPrintsLikeImapUnordered() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "3"])
            let run = try env.start(["run", "--unordered"] + Self.command, input: Self.input)
            #expect(run.wait() == 0, "stderr: \(run.stderrText)")
            let lines = run.lines
            #expect(lines.map(\.text) == ["3", "5", "7"])
            guard lines.count == 3 else { return }
            // ~0.1 s, ~0.3 s, ~0.5 s: each arrives on its own.
            #expect(lines[1].time - lines[0].time > 0.05, "\(lines)")
            #expect(lines[2].time - lines[1].time > 0.05, "\(lines)")
        }

        @Test func waitPrintsEverythingAtTheEnd() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "3"])
            let submitted = try env.batch(["submit"] + Self.command, input: Self.input)
            #expect(submitted.status == 0, "\(submitted.err)")
            let id = submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(JobID(parsing: id) != nil, "submit prints the job id: \(submitted.out)")
            let wait = try env.start(["wait", id])
            #expect(wait.wait() == 0, "stderr: \(wait.stderrText)")
            let lines = wait.lines
            #expect(lines.map(\.text) == ["3", "7", "5"])
            guard lines.count == 3 else { return }
            // Nothing until the slowest item (0.5 s) is done, then all at once.
            #expect(lines[0].time > 0.3, "wait printed before the job was done: \(lines)")
            #expect(lines[2].time - lines[0].time < 0.15, "\(lines)")
        }
    }
}

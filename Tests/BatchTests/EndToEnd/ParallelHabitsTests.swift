import BatchStore
import Foundation
import GRDB
import Testing

extension EndToEnd {
    /// The habits of xargs and GNU parallel users (issue 10), through the
    /// real binaries: `-j` across daemons, groups of items per run, the
    /// replacement options, `--dry-run`, `--tag`, `--joblog`, `retry` with a
    /// new policy, argument errors, and `batchd --keep`.
    @Suite struct ParallelHabits {
        /// GNU parallel's output for `arguments` (with `--will-cite -k`), when
        /// GNU parallel is installed (moreutils has another `parallel`).
        static func gnuParallel(_ arguments: [String], env: BatchEnvironment) throws -> String? {
            let parallel = URL(fileURLWithPath: "/usr/bin/parallel")
            guard FileManager.default.isExecutableFile(atPath: parallel.path) else { return nil }
            let version = try TestProcess(parallel, ["--version"], environment: env.environment)
            version.closeInput()
            _ = version.wait()
            guard version.stdoutText.contains("GNU parallel") else { return nil }
            let run = try TestProcess(parallel, ["--will-cite", "-k"] + arguments, environment: env.environment, directory: env.directory.path)
            run.closeInput()
            _ = run.wait()
            return run.stdoutText
        }

        @Test func aJobsLimitHoldsAcrossTwoDaemons() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "3"])
            try env.startDaemon(["--workers", "3"])
            let marks = env.directory.file("running")
            try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
            // Each run marks itself running, counts the marks, and holds for 0.2 s.
            let script = "d=\(marks); : > $d/run.$$; ls $d | grep -c '^run' >> $0.counts; sleep 0.2; rm $d/run.$$; echo {%}"
            let input = (1...16).map(String.init).joined(separator: "\n") + "\n"
            let limited = try env.batch(["run", "-j", "2", "--", "sh", "-c", script, env.directory.file("j2")], input: input)
            #expect(limited.status == 0, "\(limited.err)")
            let counts = try String(contentsOfFile: env.directory.file("j2.counts"), encoding: .utf8).split(separator: "\n").compactMap { Int($0) }
            #expect(counts.count == 16)
            #expect(counts.max() ?? 99 <= 2, "more than 2 commands ran at once: \(counts)")
            // {%} is the job slot: within 1...N under -j N.
            #expect(Set(limited.out.split(separator: "\n")).isSubset(of: ["1", "2"]), "\(limited.out)")

            // A group counts as one running command: -j 1 -n 2 runs one group at a time.
            let grouped = try env.batch(["run", "-j1", "-n", "2", "--", "sh", "-c", script, env.directory.file("j1")], input: input)
            #expect(grouped.status == 0, "\(grouped.err)")
            let groupCounts = try String(contentsOfFile: env.directory.file("j1.counts"), encoding: .utf8).split(separator: "\n").compactMap { Int($0) }
            #expect(groupCounts.count == 8, "16 items in groups of 2: \(groupCounts)")
            #expect(groupCounts.max() ?? 99 <= 1, "\(groupCounts)")

            let id = try #require(try env.store().jobsList(limit: 2).last?.id)
            let status = try #require(Failures.jsonLines(try env.batch(["status", "--json", id.description]).out).first)
            #expect(status["jobs"] as? String == "2")
            #expect(try env.batch(["status", id.description]).out.contains("at most 2 at once (-j)"))
        }

        @Test func groupsOfItemsPrintWhatXargsPrintsWithOneResultPerItem() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let items = (1...10).map(String.init)
            let run = try env.batch(["run", "-n", "3", "--", "echo", ":::"] + items)
            #expect(run.status == 0, "\(run.err)")
            #expect(run.out == "1 2 3\n4 5 6\n7 8 9\n10\n", "what seq 10 | xargs -n 3 echo prints")
            let id = try #require(try env.store().jobsList(limit: 1).first?.id)
            let records = Failures.jsonLines(try env.batch(["results", id.description, "--format", "ndjson"]).out)
            #expect(records.map { $0["line"] as? Int } == Array(1...10), "one result per item")
            #expect(records.map { $0["group"] as? [Int] } == [[1, 3], [1, 3], [1, 3], [4, 6], [4, 6], [4, 6], [7, 9], [7, 9], [7, 9], [10, 10]])
            #expect(records.map { $0["output"] as? String } == ["1 2 3\n", "", "", "4 5 6\n", "", "", "7 8 9\n", "", "", "10\n"])
            #expect(records.map { $0["input"] as? String } == items)

            // -X: as many as fit, with the context repeated (GNU parallel's -X).
            let filled = try env.batch(["run", "-X", "--", "echo", "pre-{}-post", ":::", "a", "b", "c"])
            #expect(filled.out == "pre-a-post pre-b-post pre-c-post\n", "\(filled.err)")
            let many = try env.batch(["run", "-X", "--", "echo", ":::"] + (1...200).map(String.init))
            #expect(many.out == (1...200).map(String.init).joined(separator: " ") + "\n", "what xargs echo prints")
        }

        @Test func aFailedGroupIsReportedAndRetriedAsAWhole() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            // Every run logs its items; a run holding 5 fails.
            let script = "echo \"$*\" >> runs.log; echo \"$*\"; for a; do [ $a = 5 ] && { echo five >&2; exit 3; }; done; exit 0"
            let run = try env.batch(
                ["run", "-n", "3", "--retries", "1", "--retry-delay", "10ms", "--", "sh", "-c", script, "_", ":::"] + (1...7).map(String.init))
            #expect(run.status == 1)
            #expect(run.out == "1 2 3\n7\n", "the failed group's output is not printed as a success")
            #expect(run.err.contains("lines 4-6 (one run) failed: exit status 3: five"), "\(run.err)")
            #expect(run.err.components(separatedBy: "failed:").count == 2, "one line for the group, not one per item: \(run.err)")
            let runs = try String(contentsOfFile: env.directory.file("runs.log"), encoding: .utf8)
            #expect(runs.components(separatedBy: "\n").filter { $0 == "4 5 6" }.count == 2, "the group ran again, whole: \(runs)")
            let id = try #require(try env.store().jobsList(limit: 1).first?.id).description
            #expect(try env.batch(["results", id, "--failed"]).out == "4\n5\n6\n")
            let records = Failures.jsonLines(try env.batch(["results", id, "--format", "ndjson"]).out)
            #expect(records.map { $0["attempts"] as? Int } == [1, 1, 1, 2, 2, 2, 1])
            // Retrying one line of a group runs the whole group again.
            let retried = try env.batch(["retry", id, "--items", "5"])
            #expect(retried.err.contains("3 failed item(s) back to pending"), "\(retried.err)")
            _ = try env.waitForJobEnd(try #require(JobID(parsing: id)))
            #expect(runs.count < (try String(contentsOfFile: env.directory.file("runs.log"), encoding: .utf8)).count)
        }

        @Test func replacementOptionsPrintWhatGNUParallelPrints() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            // (batch's arguments, GNU parallel's, the output parallel's documentation gives)
            let cases: [([String], [String], String)] = [
                (["--colsep", ",", "--", "echo", "{2}", "{1}", ":::", "x,y", "p,q,r"],
                 ["--colsep", ",", "echo", "{2}", "{1}", ":::", "x,y", "p,q,r"], "y x\nq p\n"),
                (["-I", "XX", "--", "echo", "XX-done", ":::", "a", "b"], ["-I", "XX", "echo", "XX-done", ":::", "a", "b"], "a-done\nb-done\n"),
                (["-n", "2", "--", "echo", ":::", "a", "b", "c", "d", "e"], ["-n2", "echo", ":::", "a", "b", "c", "d", "e"], "a b\nc d\ne\n"),
                (["--tag", "--", "echo", "out", ":::", "a", "b c"], ["--tag", "echo", "out", ":::", "a", "b c"], "a\tout a\nb c\tout b c\n"),
                (["--shell", "--", "echo {} | tr a-z A-Z", ":::", "ab", "it's"], ["echo {} | tr a-z A-Z", ":::", "ab", "it's"], "AB\nIT'S\n"),
                (["--dry-run", "--", "echo", "{.}", ":::", "a.txt", "b.c"], ["--dry-run", "echo", "{.}", ":::", "a.txt", "b.c"], "echo a\necho b\n"),
            ]
            let gnuInstalled = try Self.gnuParallel(["echo", ":::", "x"], env: env) != nil
            for (batchArguments, parallelArguments, documented) in cases {
                let run = try env.batch(["run"] + batchArguments)
                #expect(run.status == 0, "\(batchArguments): \(run.err)")
                #expect(run.out == documented, "\(batchArguments)")
                if gnuInstalled {
                    #expect(try Self.gnuParallel(parallelArguments, env: env) == run.out, "GNU parallel \(parallelArguments)")
                }
            }
            // --shell runs pipes and redirections, the item quoted.
            try Data("hello\n".utf8).write(to: URL(fileURLWithPath: env.directory.file("my file")))
            let gzip = try env.batch(["run", "--shell", "--", "gzip < {} > {}.gz && echo done", ":::", "my file"])
            #expect(gzip.out == "done\n", "\(gzip.err)")
            #expect(FileManager.default.fileExists(atPath: env.directory.file("my file.gz")))
        }

        @Test func dryRunStoresNothing() throws {
            let env = BatchEnvironment()
            let dry = try env.batch(["run", "--dry-run", "--", "cp", "{}", "{/.}.bak"], input: "dir/a b.txt\nc\n")
            #expect(dry.status == 0, "\(dry.err)")
            #expect(dry.out == "cp 'dir/a b.txt' 'a b.bak'\ncp c c.bak\n")
            let grouped = try env.batch(["submit", "--dry-run", "-n", "2", "--", "echo"], input: "1\n2\n3\n")
            #expect(grouped.out == "echo 1 2\necho 3\n")
            #expect(!FileManager.default.fileExists(atPath: env.dbPath), "a dry run does not even create the database")
        }

        @Test func joblogHasGNUParallelsFormat() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let log = env.directory.file("jobs.log")
            let jobs = try env.batch(["run", "--joblog", log, "--colsep", " ", "--", "sh", "-c", "echo $1; exit $2", "_", "{1}", "{2}", ":::", "a 0", "b 3"])
            #expect(jobs.status == 1)
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
            #expect(lines.first?.joined(separator: "\t") == "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand")
            try #require(lines.count == 3, "\(lines)")
            #expect(lines[1].count == 9 && lines[2].count == 9)
            #expect(lines[1][0] == "1" && lines[2][0] == "2")
            #expect(lines[1][1] == ":")
            #expect(Double(lines[1][2]).map { abs($0 - Date().timeIntervalSince1970) < 600 } == true, "start time in seconds since the epoch")
            #expect(lines[1][5] == "2" && lines[1][6] == "0" && lines[2][6] == "3", "Receive and Exitval: \(lines)")
            #expect(lines[2][8] == "sh -c 'echo $1; exit $2' _ b 3")
        }

        @Test func retryTakesANewPolicy() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "1"])
            let input = (1...6).map(String.init).joined(separator: "\n") + "\n"
            let script = "[ $1 != 2 ] && echo ok-$1"
            let halted = try env.batch(["run", "--halt", "now,fail=1", "--chunksize", "1", "--", "sh", "-c", script, "_"], input: input)
            #expect(halted.status == 5, "\(halted.err)")
            let id = try #require(try env.store().jobsList(limit: 1).first?.id)
            let retried = try env.batch(["retry", id.description, "--halt", "never"])
            #expect(retried.status == 0, "\(retried.err)")
            let job = try #require(try env.waitForJobEnd(id))
            #expect(job.state == .complete, "without its halt policy, the retry runs everything: \(job.state)")
            #expect(job.finishedCount == 6 && job.failedCount == 1)
            #expect(job.spec.halt == nil)
            #expect(try env.batch(["retry", id.description, "--halt", "sometimes"]).status == 64)
        }

        @Test func argumentErrorsSayWhatWasMeant() throws {
            let env = BatchEnvironment()
            let misspelled = try env.batch(["sumbit", "--", "echo"])
            #expect(misspelled.status == 64)
            #expect(misspelled.err.contains("did you mean 'submit'?"), "\(misspelled.err)")
            let noCommand = try env.batch(["run"], input: "")
            #expect(noCommand.status == 64)
            #expect(noCommand.err.contains("batch run -- echo"), "\(noCommand.err)")
            let badOption = try env.batch(["run", "--chunksiz", "5", "--", "echo"], input: "")
            #expect(badOption.status == 64)
            #expect(badOption.err.contains("did you mean '--chunksize'?") && badOption.err.contains("after --"), "\(badOption.err)")
            let help = try env.batch(["run", "--help"])
            #expect(help.status == 0 && help.out.contains("USAGE: batch run"), "\(help.err)")
            // After the command, options are the command's (as with xargs).
            try env.startDaemon(["--workers", "1"])
            let passed = try env.batch(["run", "echo", "-n", "-j"], input: "x\n")
            #expect(passed.out == "-j x", "\(passed.err)")
        }

        @Test func keepRemovesJobsThatEndedLongAgo() throws {
            let env = BatchEnvironment()
            let daemon = try env.startDaemon(["--workers", "1", "--keep", "30d"])
            let old = try env.batch(["submit", "--", "echo"], input: "1\n").out.trimmingCharacters(in: .whitespacesAndNewlines)
            let recent = try env.batch(["submit", "--", "echo"], input: "2\n").out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try env.batch(["wait", old]).status == 0)
            #expect(try env.batch(["wait", recent]).status == 0)
            daemon.signal(SIGTERM)
            daemon.wait()
            // One ended 40 days ago; an open job created as long ago is never removed.
            let open = try env.start(["submit", "--", "echo"], input: "3\n", keepInputOpen: true)
            _ = try TestProcess.eventually { try env.store().jobsList(limit: 10).count == 3 }
            let queue = try DatabaseQueue(path: env.dbPath)
            try queue.write { db in
                let past = Date().timeIntervalSince1970 - 40 * 86400
                try db.execute(sql: "UPDATE job SET finished_at = ?, created_at = ? WHERE id = ?", arguments: [past, past, Int64(old)!])
                try db.execute(sql: "UPDATE job SET created_at = ? WHERE state = 'open'", arguments: [past])
            }
            try queue.close()
            try env.startDaemon(["--workers", "1", "--keep", "30d"])
            #expect(try TestProcess.eventually(timeout: 20) { try env.store().jobFetch(JobID(parsing: old)!) == nil })
            #expect(try env.store().jobFetch(JobID(parsing: recent)!) != nil)
            #expect(try env.store().jobsList(limit: 10).contains { $0.state == .open })
            open.closeInput()
            #expect(open.wait() == 0)
        }
    }
}

import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// Bad input never crashes and never loses data: one clear line on stderr
    /// and a documented exit status.
    @Suite struct BadInput {
        /// No Swift error dump or backtrace ever reaches the user.
        func expectClean(_ stderr: String, sourceLocation: SourceLocation = #_sourceLocation) {
            for marker in ["Fatal error", "Backtrace", "Swift runtime", "Error(", "StoreError", "DatabaseError"] {
                #expect(!stderr.contains(marker), "stderr shows internals: \(stderr)", sourceLocation: sourceLocation)
            }
        }

        /// A runtime error: exactly one line, naming what was wrong.
        func expectOneLine(_ stderr: String, mentioning: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let lines = stderr.split(separator: "\n")
            #expect(lines.count == 1, "expected one line: \(stderr)", sourceLocation: sourceLocation)
            #expect(stderr.hasPrefix("batch: "), "\(stderr)", sourceLocation: sourceLocation)
            #expect(stderr.contains(mentioning), "\(stderr)", sourceLocation: sourceLocation)
            expectClean(stderr, sourceLocation: sourceLocation)
        }

        @Test func unknownJob() throws {
            let env = BatchEnvironment()
            for command in [["follow", "999"], ["wait", "999"], ["status", "999"], ["cancel", "999"]] {
                let result = try env.batch(command)
                #expect(result.status == 3, "\(command)")
                expectOneLine(result.err, mentioning: "999")
            }
        }

        @Test(arguments: [
            ["follow", "abc"], ["follow", "-3"], ["follow", "1", "--from", "-1"], ["wait", "1", "--timeout", "soon"],
            ["submit", "--chunksize", "0", "--", "echo"], ["submit", "--chunksize", "-1", "--", "echo"],
            ["submit", "--max-item-size", "-5", "--", "echo"], ["submit"], ["submit", "--"], ["run"],
            ["frobnicate"], ["list", "--limit", "0"], ["submit", "--resume", "x"],
        ])
        func malformedArguments(_ arguments: [String]) throws {
            let env = BatchEnvironment()
            let result = try env.batch(arguments, input: "a\n")
            #expect(result.status == 64, "\(arguments): \(result.err)")
            #expect(result.err.split(separator: "\n").first?.hasPrefix("Error: ") == true, "\(result.err)")
            expectClean(result.err)
            #expect(try env.store().jobsList(limit: 5).isEmpty, "nothing was submitted")
        }

        @Test func daemonRejectsBadOptions() throws {
            let env = BatchEnvironment()
            for arguments in [["--workers", "0"], ["--grace", "forever"], ["--lease", "-1s"]] {
                let daemon = try TestProcess(Binaries.batchd, ["--db", env.dbPath] + arguments, environment: env.environment)
                daemon.closeInput()
                #expect(daemon.wait() == 64, "\(arguments)")
                expectClean(daemon.stderrText)
            }
        }

        @Test func emptyInputCompletesAtOnce() throws {
            let env = BatchEnvironment()
            let submitted = try env.batch(["submit", "--", "echo"], input: "")
            #expect(submitted.status == 0)
            let id = try #require(JobID(parsing: submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(try env.store().jobFetch(id)?.state == .complete)
            #expect(try env.store().jobFetch(id)?.itemCount == 0)
            // No daemon is running, and none is needed.
            let waited = try env.batch(["wait", id.description])
            #expect(waited.status == 0)
            #expect(waited.out.isEmpty)
            let run = try env.batch(["run", "--", "echo"], input: "")
            #expect(run.status == 0)
            #expect(run.out.isEmpty)
        }

        @Test func nonUTF8ItemsKeepTheirBytes() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let items: [Data] = [Data([0x66, 0xFF, 0xFE, 0x6F]), Data("plain".utf8), Data([0xC3, 0x28, 0x20, 0x09])]
            let input = env.directory.file("items.bin")
            var bytes = Data()
            for item in items { bytes.append(item); bytes.append(10) }
            try bytes.write(to: URL(fileURLWithPath: input))
            let run = try TestProcess(
                Binaries.batch, ["run", "--input", input, "--", "sh", "-c", "printf '%s|' \"$1\"", "_"],
                environment: env.environment)
            run.closeInput()
            #expect(run.wait() == 0, "\(run.stderrText)")
            var expected = Data()
            for item in items { expected.append(item); expected.append(0x7C) }
            #expect(run.stdout == expected)
            // And as JSON, a non-UTF-8 output comes as base64.
            let id = try #require(try env.store().jobsList(limit: 1).first?.id)
            let json = try env.batch(["follow", "--json", id.description])
            let first = try #require(json.out.split(separator: "\n").first)
            let record = try JSONSerialization.jsonObject(with: Data(first.utf8)) as! [String: Any]
            #expect(record["output_base64"] as? String == Data([0x66, 0xFF, 0xFE, 0x6F, 0x7C]).base64EncodedString())
        }

        @Test func nulSeparatedItems() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let run = try env.batch(["run", "-0", "--", "sh", "-c", "echo \"[$1]\"", "_"], input: "a b\0line\nbreak\0c")
            #expect(run.status == 0, "\(run.err)")
            #expect(run.out == "[a b]\n[line\nbreak]\n[c]\n")
        }

        @Test func oversizedItemStopsSubmissionAndKeepsWhatWasStored() throws {
            let env = BatchEnvironment()
            let long = String(repeating: "x", count: 100)
            let result = try env.batch(["submit", "--max-item-size", "64", "--", "echo"], input: "a\nb\n\(long)\nc\n")
            #expect(result.status == 65)
            let id = try #require(JobID(parsing: result.out.trimmingCharacters(in: .whitespacesAndNewlines)))
            expectOneLine(result.err, mentioning: "line 3")
            let job = try #require(try env.store().jobFetch(id))
            #expect(job.itemCount == 2)
            #expect(job.state == .open)
            // The job can be completed by resuming with a larger limit.
            let resumed = try env.batch(["submit", "--resume", id.description, "--max-item-size", "1K"], input: "a\nb\n\(long)\nc\n")
            #expect(resumed.status == 0, "\(resumed.err)")
            #expect(try env.store().jobFetch(id)?.itemCount == 4)
        }

        @Test func fileThatIsNotADatabaseIsLeftUntouched() throws {
            let env = BatchEnvironment()
            let path = env.directory.file("precious.txt")
            let bytes = Data("these are my notes, not a database\n".utf8) + Data(repeating: 0xAB, count: 4096)
            try bytes.write(to: URL(fileURLWithPath: path))
            for command in [["list"], ["status", "1"], ["submit", "--", "echo"], ["follow", "1"]] {
                let result = try env.batch([command[0], "--db", path] + command.dropFirst(), input: "a\n")
                #expect(result.status == 74, "\(command): \(result.err)")
                expectOneLine(result.err, mentioning: path)
            }
            let daemon = try TestProcess(Binaries.batchd, ["--db", path], environment: env.environment)
            daemon.closeInput()
            #expect(daemon.wait() == 74)
            #expect(daemon.stderrText.contains(path))
            expectClean(daemon.stderrText)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
        }

        @Test func missingInputFile() throws {
            let env = BatchEnvironment()
            let result = try env.batch(["submit", "--input", env.directory.file("nope.txt"), "--", "echo"])
            #expect(result.status == 66)
            #expect(result.err.contains("nope.txt"))
            expectClean(result.err)
        }

        @Test func failingCommandsAreReportedByLine() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let run = try env.batch(
                ["run", "--", "sh", "-c", "if [ $1 = 2 ]; then echo broken >&2; exit 3; fi; echo ok-$1", "_"], input: "1\n2\n3\n")
            #expect(run.status == 1)
            #expect(run.out == "ok-1\nok-3\n")
            #expect(run.err.contains("line 2 failed: exit status 3: broken"), "\(run.err)")
            // A command that disappears after submit (--no-check here) fails per item.
            let missing = try env.batch(["run", "--no-check", "--", "no-such-command-here"], input: "1\n")
            #expect(missing.status == 1)
            #expect(missing.err.contains("command not found: no-such-command-here"), "\(missing.err)")
            expectClean(missing.err)
        }

        /// Like xargs, a command that cannot run is refused at once with 127
        /// (issue 10), before any item is stored: not 20,000 failed items.
        @Test func aMissingCommandIsRefusedAtSubmit() throws {
            let env = BatchEnvironment()
            for command in ["run", "submit"] {
                // (Input small enough for the pipe: the command exits before reading it.)
                let refused = try env.batch([command, "--", "no-such-command-here"], input: (1...1_000).map { "\($0)\n" }.joined())
                #expect(refused.status == 127, "\(refused.err)")
                expectOneLine(refused.err, mentioning: "no-such-command-here")
                #expect(refused.out.isEmpty)
            }
            let notExecutable = try env.batch(["submit", "--", "/etc/passwd"], input: "1\n")
            #expect(notExecutable.status == 127, "\(notExecutable.err)")
            #expect(try env.store().jobsList(limit: 10).isEmpty, "nothing was stored")
        }

        @Test func cancelKillsRunningCommands() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let marker = env.directory.file("survivor")
            let started = env.directory.file("started")
            let submitted = try env.batch(
                ["submit", "--chunksize", "1", "--", "sh", "-c", "echo $1 >> \(started); sleep 5 && touch \(marker)", "_"],
                input: "1\n2\n3\n")
            let id = try #require(JobID(parsing: submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)))
            let follower = try env.start(["follow", id.description])
            // Commands are running (the marker's absence below means something).
            try #require(TestProcess.eventually(timeout: 30) { FileManager.default.fileExists(atPath: started) })
            let cancelled = try env.batch(["cancel", id.description])
            #expect(cancelled.status == 0, "\(cancelled.err)")
            #expect(follower.wait(timeout: 30) == 2, "\(follower.stderrText)")
            let again = try env.batch(["cancel", id.description])
            #expect(again.status == 4)
            // The sleeps were killed with their process group: nothing touches the marker.
            usleep(5_500_000)
            #expect(!FileManager.default.fileExists(atPath: marker))
        }
    }
}

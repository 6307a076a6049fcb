import BatchStore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// A service people leave running (issues 9 and 19): no silent hang after
    /// housekeeping, no job that can take a daemon down, no claim left behind
    /// by a job that ended, and bad values refused before they are stored.
    @Suite struct ServiceSafety {
        func jobID(_ text: String) throws -> JobID {
            try #require(JobID(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }

        /// Chunk ids were reused after a delete, and the reused chunk matched
        /// the deleted job's lease and verdicts: every new job hung.
        @Test(arguments: ["rm", "gc"])
        func newJobsRunAfterJobsAreRemovedUnderALiveDaemon(_ removal: String) throws {
            let env = BatchEnvironment()
            let daemon = try env.startDaemon(["--workers", "2"])
            for round in 1...3 {
                let id = try jobID(try env.batch(["submit", "--chunksize", "1", "--", "echo"], input: "1\n2\n3\n4\n").out)
                #expect(try env.batch(["wait", id.description]).out == "1\n2\n3\n4\n")
                let removed = removal == "rm"
                    ? try env.batch(["rm", id.description]) : try env.batch(["gc", "--older-than", "0"])
                #expect(removed.status == 0, "\(removed.err)")
                let run = try env.batch(["run", "--chunksize", "1", "--", "echo", "again"], input: "a\nb\nc\nd\n", timeout: 30)
                #expect(run.status == 0, "round \(round): a new job must not hang: \(run.err) \(daemon.stderrText)")
                #expect(run.out == "again a\nagain b\nagain c\nagain d\n")
            }
            #expect(!daemon.stderrText.contains("lost the lease"), "\(daemon.stderrText)")
        }

        @Test func timeoutsThatCannotBeRepresentedAreRefused() throws {
            let env = BatchEnvironment()
            for timeout in ["99999999999999999h", "200000000000000000000s", "9999999999999999999999999%"] {
                let refused = try env.batch(["submit", "--timeout", timeout, "--", "echo"], input: "1\n")
                #expect(refused.status == 64, "\(timeout): \(refused.err)")
                #expect(refused.err.contains("--timeout"), "\(refused.err)")
            }
            #expect(try env.store().jobsList(limit: 10).isEmpty, "nothing was stored")
            let daemon = try TestProcess(Binaries.batchd, ["--db", env.dbPath, "--grace", "99999999999999999h"], environment: env.environment)
            daemon.closeInput()
            #expect(daemon.wait(timeout: 30) == 64, "\(daemon.stderrText)")
            #expect(!daemon.stderrText.contains("Fatal error"), "\(daemon.stderrText)")
        }

        /// A job stored with a huge limit (by an older release, or by hand)
        /// must not crash the daemons that run it: the queue goes on.
        @Test func aStoredHugeTimeoutDoesNotTakeTheDaemonDown() throws {
            let env = BatchEnvironment()
            let store = try env.store()
            var poisoned: [JobID] = []
            for timeout in [ItemTimeout.seconds(1e30), .percentOfMedian(1e30)] {
                let spec = JobSpec(
                    command: ["echo"], workingDirectory: env.directory.path,
                    environment: [Data("PATH=/usr/bin:/bin".utf8)], timeout: timeout)
                let job = try store.jobCreate(spec, now: Date())
                try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: [Data("1".utf8), Data("2".utf8)])
                _ = try store.jobSealIfOpen(job.id, now: Date())
                poisoned.append(job.id)
            }
            let daemon = try env.startDaemon(["--workers", "2"])
            let other = try env.batch(["run", "--", "echo"], input: "x\ny\n", timeout: 30)
            #expect(other.status == 0, "\(other.err) \(daemon.stderrText)")
            for id in poisoned {
                #expect(try env.waitForJobEnd(id, timeout: 30)?.state == .complete)
            }
            #expect(daemon.isRunning, "\(daemon.stderrText)")
        }

        @Test func aDaemonThatStopsOnAnErrorExitsNonZero() throws {
            let env = BatchEnvironment()
            // Hold a port, so the daemon's metrics server cannot bind it.
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(fd, pointer, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            try #require(bound)
            let port = Int(UInt16(bigEndian: address.sin_port))
            let daemon = try TestProcess(Binaries.batchd, ["--db", env.dbPath, "--metrics", "\(port)"], environment: env.environment)
            daemon.closeInput()
            let status = daemon.wait(timeout: 30)
            #expect(status == 70, "\(daemon.stderrText)")
            #expect(try env.store().daemonsList().isEmpty, "it removed its record")
        }

        @Test func aCursorPastEveryEntryEndsTheStream() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "1"])
            let id = try jobID(try env.batch(["submit", "--", "echo"], input: "1\n").out)
            _ = try env.batch(["wait", id.description])
            for order in [[], ["--unordered"]] {
                let follow = try env.batch(["follow", id.description, "--from", "9223372036854775807"] + order)
                #expect(follow.status == 0, "\(follow.err)")
                #expect(follow.out.isEmpty)
            }
        }

        @Test func anItemCannotInjectShellCodeThroughThePlaceholder() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "1"])
            let planted = env.directory.file("pwned")
            let item = "x; touch \(planted) $(touch \(planted)) 'q'"
            let run = try env.batch(["run", "--", "sh", "-c", "echo {}"], input: item + "\nplain-1.txt\n")
            #expect(run.status == 0, "\(run.err)")
            #expect(run.out == item + "\nplain-1.txt\n")
            #expect(!FileManager.default.fileExists(atPath: planted))
        }

        /// Linux refuses one argument over 128 KiB: such an item could only
        /// ever fail per item, so it is refused at submit (stream mode takes it).
        @Test func itemsOverTheArgumentLimitAreRefusedForPerItemJobs() throws {
            let env = BatchEnvironment()
            let big = String(repeating: "a", count: 200_000)
            let refused = try env.batch(["submit", "--", "wc", "-c"], input: "small\n\(big)\n")
            #expect(refused.status == 65, "\(refused.err)")
            #expect(refused.err.contains("line 2"), "\(refused.err)")
            #expect(refused.err.contains("--stream"), "\(refused.err)")
            try env.startDaemon(["--workers", "1"])
            let stream = try env.batch(["run", "--stream", "--", "cat"], input: "\(big)\n", timeout: 30)
            #expect(stream.status == 0, "\(stream.err)")
            #expect(stream.out == big + "\n")
        }

        @Test func anUnreadableInputCreatesNoJob() throws {
            let env = BatchEnvironment()
            for command in ["submit", "run"] {
                let result = try env.batch([command, "--input", env.directory.file("nonexistent"), "--", "echo"])
                #expect(result.status == 66, "\(result.err)")
                #expect(result.out.isEmpty, "no job id is printed")
            }
            #expect(try env.store().jobsList(limit: 10).isEmpty)
        }

        /// A job that ended (halted, cancelled) holds no chunk, whatever its
        /// daemon was doing at the time.
        @Test func aJobThatEndedHoldsNoChunk() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let store = try env.store()
            for _ in 1...4 {
                let run = try env.batch(
                    ["run", "--halt", "now,fail=2", "--", "sh", "-c", "[ $1 -lt 4 ] || exit 1; echo ok $1", "_"],
                    input: (1...10).map { "\($0)\n" }.joined())
                #expect(run.status == 5, "\(run.err)")
                let id = try #require(try store.jobsList(limit: 1).first?.id)
                #expect(try store.itemCounts(job: id).claimed == 0)
                #expect(try store.chunksLeasedList().isEmpty)
            }
            let slow = try jobID(try env.batch(["submit", "--chunksize", "3", "--", "sleep"], input: "5\n5\n5\n5\n5\n5\n").out)
            try #require(TestProcess.eventually(timeout: 30) { try store.itemCounts(job: slow).claimed > 0 })
            #expect(try env.batch(["cancel", slow.description]).status == 0)
            #expect(try store.chunksLeasedList().isEmpty, "cancel hands every chunk back at once")
            #expect(try store.itemCounts(job: slow).claimed == 0)
        }
    }
}

extension EndToEnd {
    /// The smaller defects of issues 9 and 19, each through the real binaries.
    @Suite struct SmallerDefects {
        @Test func aDeletedWorkingDirectoryIsNamedNotBlamedOnTheCommand() throws {
            let env = BatchEnvironment()
            let folder = env.directory.file("gone")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let submit = try TestProcess(Binaries.batch, ["submit", "--", "pwd"], environment: env.environment, directory: folder)
            submit.write("1\n")
            submit.closeInput()
            #expect(submit.wait() == 0)
            try FileManager.default.removeItem(atPath: folder)
            try env.startDaemon(["--workers", "1"])
            let id = try #require(try env.store().jobsList(limit: 1).first?.id)
            let wait = try env.batch(["wait", id.description])
            #expect(wait.status == 1)
            #expect(wait.err.contains("the working directory \(folder) no longer exists"), "\(wait.err)")
        }

        @Test func aNewlineInTheCommandNameStaysOnOneLine() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "1"])
            let refused = try env.batch(["run", "--", "ec\nho"], input: "1\n")
            #expect(refused.status == 127)
            #expect(refused.err.split(separator: "\n").count == 1 && refused.err.contains("ec\\nho"), "\(refused.err)")
            let run = try env.batch(["run", "--no-check", "--", "ec\nho"], input: "1\n")
            #expect(run.status == 1)
            #expect(run.err.split(separator: "\n").count == 2, "one line for the item, one for the job: \(run.err)")
            #expect(run.err.contains("command not found: ec\\nho"), "\(run.err)")
            let list = try env.batch(["list"]).out.split(separator: "\n")
            #expect(list.count == 2, "a header and one row: \(list)")
        }

        @Test func aTimeoutThatNeededSIGKILLRecordsSIGKILL() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "1"])
            let run = try env.batch(["run", "--json", "--timeout", "500ms", "--", "sh", "-c", "trap '' TERM; sleep 30", "_"], input: "1\n")
            #expect(run.status == 1)
            let record = try #require(Failures.jsonLines(run.out).first)
            #expect(record["signal"] as? Int == Int(SIGKILL), "\(run.out)")
        }

        @Test func gcDoesNotCompactUnderALiveDaemon() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "1"])
            _ = try env.batch(["run", "--", "echo"], input: "1\n")
            let gc = try env.batch(["gc", "--older-than", "0"])
            #expect(gc.status == 0)
            #expect(gc.err.contains("removed 1 job"), "\(gc.err)")
            #expect(gc.err.contains("not compacted"), "\(gc.err)")
        }

        @Test func listFindsJobsWithFailuresAndHaltedOnes() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "1"])
            _ = try env.batch(["run", "--", "sh", "-c", "exit $1", "_"], input: "0\n1\n")
            _ = try env.batch(["run", "--", "echo"], input: "1\n")
            _ = try env.batch(["run", "--halt", "now,fail=1", "--", "false"], input: "1\n2\n")
            let withFailures = Failures.jsonLines(try env.batch(["list", "--json", "--with-failures"]).out).map { $0["id"] as? Int }
            #expect(withFailures == [3, 1])
            let halted = Failures.jsonLines(try env.batch(["list", "--json", "--state", "halted"]).out).map { $0["id"] as? Int }
            #expect(halted == [3])
        }
    }
}

extension EndToEnd {
    /// Arguments and working directories that are not UTF-8 (a Latin-1 file
    /// name) run exactly as given, per item and in stream mode (issue 19).
    @Suite struct ExactBytes {
        @Test func latin1ArgumentsAndWorkingDirectoryRunAsGiven() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "1"])
            // A shell makes the bytes: Foundation passes arguments as Strings.
            let script = """
                dir="$(printf '%s/caf\\351' "$1")"; mkdir -p "$dir" && cd "$dir" || exit 9
                echo 1 | "$2" run -- printf "$(printf '\\377\\376%%s\\n')" > "$3/printf.out" || exit 1
                echo 1 | "$2" run -- pwd > "$3/pwd.out" || exit 2
                echo 1 | "$2" run --stream -- sh -c 'while read x; do pwd; done' > "$3/stream.out" || exit 3
                "$2" status 2 > "$3/status.out"
                """
            let shell = try TestProcess(
                URL(fileURLWithPath: "/bin/sh"), ["-c", script, "_", env.directory.path, Binaries.batch.path, env.directory.path],
                environment: env.environment)
            shell.closeInput()
            #expect(shell.wait(timeout: 60) == 0, "\(shell.stderrText)")
            let folder = Data(env.directory.path.utf8) + Data([0x2F, 0x63, 0x61, 0x66, 0xE9])
            #expect(FileManager.default.contents(atPath: env.directory.file("printf.out")) == Data([0xFF, 0xFE, 0x31]), "the format lost its newline to $(...)")
            #expect(FileManager.default.contents(atPath: env.directory.file("pwd.out")) == folder + Data([0x0A]))
            #expect(FileManager.default.contents(atPath: env.directory.file("stream.out")) == folder + Data([0x0A]))
            let status = String(decoding: FileManager.default.contents(atPath: env.directory.file("status.out")) ?? Data(), as: UTF8.self)
            #expect(status.contains("caf\\xe9"), "shown escaped: \(status)")
        }
    }
}

extension EndToEnd {
    /// GNU parallel's replacement strings through the real binaries (issue
    /// 10), against its documented outputs and, when it is installed, against
    /// `parallel` itself on the same input.
    @Suite struct ReplacementStrings {
        @Test func theSameLinesAsGNUParallel() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let input = "dir/sub/file.tar.gz\nplain\na.d/b\n"
            let command = ["echo", "{}", "{.}", "{/}", "{//}", "{/.}", "{#}"]
            let run = try env.batch(["run", "--"] + command, input: input)
            #expect(run.status == 0, "\(run.err)")
            #expect(run.out == """
                dir/sub/file.tar.gz dir/sub/file.tar file.tar.gz dir/sub file.tar 1
                plain plain plain . plain 2
                a.d/b a.d/b b a.d b 3

                """)
            // GNU parallel itself, when it is installed (moreutils has another `parallel`).
            let parallel = URL(fileURLWithPath: "/usr/bin/parallel")
            guard FileManager.default.isExecutableFile(atPath: parallel.path) else { return }
            let version = try TestProcess(parallel, ["--version"], environment: env.environment)
            version.closeInput()
            version.wait(timeout: 30)
            guard version.stdoutText.contains("GNU parallel") else { return }
            let gnu = try TestProcess(parallel, ["--will-cite", "-k"] + command, environment: env.environment)
            gnu.write(input)
            gnu.closeInput()
            #expect(gnu.wait(timeout: 60) == 0)
            #expect(run.out == gnu.stdoutText, "GNU parallel printed: \(gnu.stdoutText)")
        }
    }
}

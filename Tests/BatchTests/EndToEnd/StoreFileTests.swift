import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// The store's files (issues 9 and 19): nothing of others is touched, a
    /// daemon whose database is moved away stops, the WAL is given back.
    @Suite struct StoreFiles {
        /// Every file in the folder, with its bytes.
        static func snapshot(_ folder: String) -> [String: Data] {
            var files: [String: Data] = [:]
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                files[name] = FileManager.default.contents(atPath: folder + "/" + name)
            }
            return files
        }

        static func python(_ script: String, _ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script] + arguments
            try process.run()
            process.waitUntilExit()
            try #require(process.terminationStatus == 0)
        }

        @Test func anotherProgramsDatabaseIsLeftByteForByteUntouched() throws {
            let env = BatchEnvironment()
            let folder = env.directory.file("others")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // A GRDB app's database with a table named job, and a table-less
            // database of a program with its own application_id.
            try Self.python("""
                import sqlite3, sys
                c = sqlite3.connect(sys.argv[1])
                c.executescript("create table grdb_migrations(identifier text primary key); insert into grdb_migrations values('v1'); create table job(x)")
                c.commit(); c.close()
                c = sqlite3.connect(sys.argv[2]); c.execute("pragma application_id = 1234"); c.commit(); c.close()
                """, [folder + "/app.db", folder + "/tagged.db"])
            let before = Self.snapshot(folder)
            for name in ["app.db", "tagged.db"] {
                let result = try env.batch(["list", "--db", folder + "/" + name])
                #expect(result.status == 74, "\(name): \(result.err)")
                #expect(result.err.contains("not a batch database"), "\(result.err)")
            }
            #expect(Self.snapshot(folder) == before, "no byte changed, no -wal, -shm or -journal left")
        }

        @Test func devicesAndDanglingLinksAreRefused() throws {
            let env = BatchEnvironment()
            let before = Self.snapshot("/dev").keys.sorted()
            let null = try env.batch(["list", "--db", "/dev/null"])
            #expect(null.status == 74, "\(null.err)")
            #expect(null.err.contains("not a regular file"), "\(null.err)")
            #expect(Self.snapshot("/dev").keys.sorted() == before, "nothing created in /dev")
            let link = env.directory.file("dangling.db")
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: env.directory.file("elsewhere/x.db"))
            let dangling = try env.batch(["list", "--db", link])
            #expect(dangling.status == 74, "\(dangling.err)")
            #expect(!FileManager.default.fileExists(atPath: env.directory.file("elsewhere")))
        }

        @Test func theAutostartLogIsNeverOpenedThroughALink() throws {
            let env = BatchEnvironment()
            let victim = env.directory.file("victim")
            try Data("precious\n".utf8).write(to: URL(fileURLWithPath: victim))
            try FileManager.default.createSymbolicLink(atPath: env.dbPath + "-batchd.log", withDestinationPath: victim)
            var environment = env.environment
            environment.removeValue(forKey: "BATCH_NO_AUTOSTART")
            let process = try env.start(["submit", "--", "echo"], input: "1\n", environment: environment)
            #expect(process.wait(timeout: 30) == 69, "\(process.stderrText)")
            #expect(process.stderrText.contains("symbolic link"), "\(process.stderrText)")
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        }

        @Test(arguments: ["deleted", "moved"])
        func aDaemonWhoseDatabaseIsMovedAwayStopsItsWork(_ how: String) throws {
            let env = BatchEnvironment()
            let runs = env.directory.file("runs")
            let daemon = try env.startDaemon(["--workers", "2"])
            _ = try env.batch(["submit", "--chunksize", "1", "--", "sh", "-c", "echo $1 >> \(runs); sleep 1", "_"],
                              input: (1...20).map { "\($0)\n" }.joined())
            try #require(TestProcess.eventually(timeout: 30) { FileManager.default.fileExists(atPath: runs) })
            if how == "deleted" {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: env.dbPath + suffix) }
            } else {
                try FileManager.default.moveItem(atPath: env.dbPath, toPath: env.directory.file("moved.db"))
            }
            let status = daemon.wait(timeout: 30)
            #expect(status == 70, "it exits, and says why: \(daemon.stderrText)")
            #expect(daemon.stderrText.contains("deleted or moved"), "\(daemon.stderrText)")
            let started = try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n").count
            usleep(1_500_000)
            let later = try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n").count
            #expect(started == later && started < 20, "no command starts after it stopped")
        }

        @Test func anIdleDaemonGivesTheWALBack() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let run = try env.batch(["run", "--stream", "--", "cat"], input: (1...200_000).map { "item \($0)\n" }.joined(), timeout: 120)
            #expect(run.status == 0)
            let truncated = TestProcess.eventually(timeout: 30) {
                // The running daemon keeps the WAL file open: it must be there, and empty.
                let size = (try? FileManager.default.attributesOfItem(atPath: env.dbPath + "-wal")[.size] as? Int) ?? -1
                return size == 0
            }
            #expect(truncated, "the WAL is truncated once the daemon is idle")
        }
    }
}

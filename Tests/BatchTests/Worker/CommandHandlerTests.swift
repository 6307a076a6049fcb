import BatchStore
@testable import BatchWorker
import Foundation
import Testing

/// The per-item command runner on the blocking path the pool uses: real
/// processes, real signals. Each run blocks its thread, so it runs on a
/// thread of `BlockingThreads` as in the pool: blocking one of Swift's few
/// cooperative threads would stall the tests running beside these.
@Suite struct CommandHandlerTests {
    let directory = TemporaryDirectory()

    func run(_ script: String, _ data: String = "", timeout: Double? = nil, stop: StopSignal = StopSignal()) async throws
        -> ItemOutcome?
    {
        let job = try job(script)
        return await BlockingThreads.shared.value {
            CommandHandler().runBlocking(WorkItem(line: 1, data: Data(data.utf8)), of: job, timeout: timeout, stop: stop)
        }
    }

    func job(_ script: String) throws -> Job {
        let store = try SQLiteStore(path: directory.file("commands.db"))
        return try store.jobCreate(
            JobSpec(
                command: ["sh", "-c", script], workingDirectory: directory.path,
                environment: [Data("PATH=/usr/bin:/bin".utf8)]),
            now: Date())
    }

    @Test func outputAndExitStatusOfARun() async throws {
        let outcome = try #require(try await run("echo \"$0\"; echo oops >&2; exit 3", "hello"))
        #expect(outcome.status == .failed)
        #expect(outcome.exitStatus == 3)
        #expect(outcome.output == Data("hello\n".utf8))
        #expect(outcome.errorOutput == Data("oops\n".utf8))
    }

    @Test func aTimeoutKillsARunThatClosedItsOutput() async throws {
        let started = Date()
        let outcome = try #require(try await run("exec >&- 2>&-; sleep 30", timeout: 0.3))
        #expect(outcome.status == .failed)
        #expect(outcome.reason?.hasPrefix("timed out after 0.3 s") == true)
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func aStopEndsTheRunAndItsProcessGroup() async throws {
        let marker = directory.file("survived")
        let began = directory.file("began")
        let stop = StopSignal()
        let started = Date()
        async let outcome = run("touch \(began); (sleep 2; touch \(marker)) & sleep 30", stop: stop)
        // The run began before it is stopped: the marker's absence below means something.
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: began), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(FileManager.default.fileExists(atPath: began))
        try await Task.sleep(for: .milliseconds(100))
        stop.trigger()
        #expect(try await outcome == nil, "a stopped run has no outcome")
        #expect(Date().timeIntervalSince(started) < 10)
        try await Task.sleep(for: .seconds(2.5))
        #expect(!FileManager.default.fileExists(atPath: marker), "the whole group was killed")
    }

    @Test func aChildLeftHoldingTheOutputDoesNotHoldTheItem() async throws {
        let started = Date()
        // The child holds the output for 30 s: the item must not wait for it
        // (a wide margin: the machine may be busy, never 30 s busy).
        let outcome = try #require(try await run("sleep 30 & echo done"))
        #expect(outcome.status == .succeeded)
        #expect(outcome.output == Data("done\n".utf8))
        #expect(Date().timeIntervalSince(started) < 20)
    }
}

import BatchStore
@testable import BatchWorker
import Foundation
import Testing

/// The per-item command runner on the blocking path the pool uses: real
/// processes, real signals.
@Suite struct CommandHandlerTests {
    let directory = TemporaryDirectory()

    func job(_ script: String) throws -> Job {
        let store = try SQLiteStore(path: directory.file("commands.db"))
        return try store.jobCreate(
            JobSpec(
                command: ["sh", "-c", script], workingDirectory: directory.path,
                environment: [Data("PATH=/usr/bin:/bin".utf8)]),
            now: Date())
    }

    @Test func outputAndExitStatusOfARun() throws {
        let outcome = try #require(CommandHandler().runBlocking(
            WorkItem(line: 1, data: Data("hello".utf8)), of: try job("echo \"$0\"; echo oops >&2; exit 3"),
            timeout: nil, stop: StopSignal()))
        #expect(outcome.status == .failed)
        #expect(outcome.exitStatus == 3)
        #expect(outcome.output == Data("hello\n".utf8))
        #expect(outcome.errorOutput == Data("oops\n".utf8))
    }

    @Test func aTimeoutKillsARunThatClosedItsOutput() throws {
        let started = Date()
        let outcome = try #require(CommandHandler().runBlocking(
            WorkItem(line: 1, data: Data()), of: try job("exec >&- 2>&-; sleep 30"), timeout: 0.3, stop: StopSignal()))
        #expect(outcome.status == .failed)
        #expect(outcome.reason?.hasPrefix("timed out after 0.3 s") == true)
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func aStopEndsTheRunAndItsProcessGroup() async throws {
        let marker = directory.file("survived")
        let stop = StopSignal()
        let handler = CommandHandler()
        let job = try job("(sleep 2; touch \(marker)) & sleep 30")
        let started = Date()
        let run = Task.detached { handler.runBlocking(WorkItem(line: 1, data: Data()), of: job, timeout: nil, stop: stop) }
        try await Task.sleep(for: .milliseconds(300))
        stop.trigger()
        #expect(await run.value == nil, "a stopped run has no outcome")
        #expect(Date().timeIntervalSince(started) < 10)
        try await Task.sleep(for: .seconds(2.5))
        #expect(!FileManager.default.fileExists(atPath: marker), "the whole group was killed")
    }

    @Test func aChildLeftHoldingTheOutputDoesNotHoldTheItem() throws {
        let started = Date()
        let outcome = try #require(CommandHandler().runBlocking(
            WorkItem(line: 1, data: Data()), of: try job("sleep 3 & echo done"), timeout: nil, stop: StopSignal()))
        #expect(outcome.status == .succeeded)
        #expect(outcome.output == Data("done\n".utf8))
        #expect(Date().timeIntervalSince(started) < 2.5)
    }
}

import BatchStore
import BatchWorker
import Foundation
import Logging
import Testing

/// batch as a Swift library: submit an AsyncSequence, iterate results in
/// either order, wait for all, with a closure as the function.
@Suite struct LibraryAPITests {
    let directory = TemporaryDirectory()

    @Test func submitIterateAndWaitWithAClosure() async throws {
        let store = try SQLiteStore(path: directory.file("library.db"))
        let items = AsyncStream<Data> { continuation in
            for n in 1...50 { continuation.yield(Data(String(n).utf8)) }
            continuation.finish()
        }
        let job = try await store.submit(items, spec: JobSpec(command: ["double"], workingDirectory: "/", environment: []), batchSize: 7)
        #expect(job.itemCount == 50)
        #expect(job.state == .sealed)
        let double = ClosureHandler { item, _ in
            let n = Int(String(decoding: item.data, as: UTF8.self))!
            try await Task.sleep(for: .milliseconds(n % 3))
            return Data(String(2 * n).utf8)
        }
        let pool = WorkerPool(
            store: store, handler: double, configuration: WorkerPoolConfiguration(owner: "library", workers: 3),
            logger: Logger(label: "test"))
        let workers = Task { try await pool.run() }
        var unordered: [Int64] = []
        for try await result in store.results(of: job.id, order: .completion) { unordered.append(result.line) }
        let all = try await store.waitForAll(job.id)
        workers.cancel()
        _ = try? await workers.value
        #expect(Set(unordered) == Set(1...50) && unordered.count == 50)
        #expect(all.map(\.line) == Array(1...50))
        #expect(all.map { String(decoding: $0.outcome.output, as: UTF8.self) } == (1...50).map { String(2 * $0) })
        var resumed: [Int64] = []
        for try await result in store.results(of: job.id, order: .input, from: 45) { resumed.append(result.line) }
        #expect(resumed == [46, 47, 48, 49, 50])
    }

    @Test func theExampleBuildsAndRuns() throws {
        let process = try TestProcess(
            Binaries.folder.appendingPathComponent("square-numbers"), [directory.file("example.db")],
            environment: ProcessInfo.processInfo.environment)
        process.closeInput()
        #expect(process.wait(timeout: 60) == 0, "\(process.stderrText)")
        #expect(process.stdoutText == (1...20).map { "\($0): \($0 * $0)\n" }.joined())
    }
}

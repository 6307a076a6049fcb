// An example of batch as a Swift library: a durable parallel map with a
// Swift closure as the function, in one process.
//
//   swift run square-numbers [DATABASE]
//
// It submits the numbers 1...20 as an AsyncSequence, runs a worker pool of
// three whose function squares each number (slowly, so the results arrive
// out of order), prints the results in input order as they are ready (like
// Python's imap), and then stops the pool.
import BatchStore
import BatchBackends
import BatchWorker
import Foundation
import Logging

let path = CommandLine.arguments.count > 1
    ? CommandLine.arguments[1]
    : FileManager.default.temporaryDirectory.appendingPathComponent("square-numbers-\(getpid()).db").path
let store = try StoreFactory.open(.file(path))

let numbers = AsyncStream<Data> { continuation in
    for n in 1...20 { continuation.yield(Data(String(n).utf8)) }
    continuation.finish()
}
let spec = JobSpec(command: ["square"], workingDirectory: FileManager.default.currentDirectoryPath, environment: [])
let job = try await store.submit(numbers, spec: spec)

let square = ClosureHandler { item, _ in
    let n = Int(String(decoding: item.data, as: UTF8.self)) ?? 0
    try await Task.sleep(for: .milliseconds(10 * (n % 4)))
    return Data(String(n * n).utf8)
}
var logger = Logger(label: "square-numbers")
logger.logLevel = .warning
let pool = WorkerPool(
    store: store, handler: square,
    configuration: WorkerPoolConfiguration(owner: "square-numbers-\(getpid())", workers: 3), logger: logger)

// The pool runs until cancelled (inside a ServiceGroup it would also stop gracefully on SIGTERM).
let workers = Task { try await pool.run() }
for try await result in store.results(of: job.id, order: .input) {
    print("\(result.line): \(String(decoding: result.outcome.output, as: UTF8.self))")
}
workers.cancel()
_ = try? await workers.value
try? store.close()
for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }

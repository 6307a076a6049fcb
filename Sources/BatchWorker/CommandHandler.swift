import BatchStore
import Foundation
import Subprocess
#if canImport(Glibc)
import Glibc
#endif
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// Runs a job's command once per item (one process per item).
///
/// The command runs directly (no shell) in the job's working directory and
/// environment, in a process group of its own so that cancelling the item
/// kills whatever it started (TERM to the group, KILL after `killGrace`).
/// Its stdout is the item's result; exit status 0 is success; its stderr is
/// kept (the last `errorTail` bytes) for failures. An output over the job's
/// `maxOutput` stops the command (KILL to its group) and fails the item.
public struct CommandHandler: ItemHandler {
    public var maxOutput: Int
    public var errorTail: Int
    public var killGrace: Duration
    private let commands = PreparedCommands()

    public init(maxOutput: Int = .max, errorTail: Int = 64 << 10, killGrace: Duration = .milliseconds(500)) {
        self.maxOutput = maxOutput
        self.errorTail = errorTail
        self.killGrace = killGrace
    }

    public func run(_ item: WorkItem, of job: Job) async throws -> ItemOutcome {
        let started = Date()
        let prepared = commands.prepared(for: job)
        let argv = prepared.builder.argv(for: item.data)
        func failure(_ exitStatus: Int32, _ reason: String) -> ItemOutcome {
            ItemOutcome(
                status: .failed, exitStatus: exitStatus, errorOutput: Data(reason.utf8), reason: reason,
                startedAt: started, finishedAt: Date())
        }
        if argv.contains(where: { $0.contains(0) }) {
            return failure(126, "the item contains a NUL byte, which cannot be passed in an argument")
        }
        guard let program = argv.first, let path = prepared.executable else {
            return failure(127, "command not found: \(String(decoding: argv.first ?? [], as: UTF8.self))")
        }

        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: killGrace)]
        let configuration = Configuration(
            executable: .path(FilePath(path)),
            // Subprocess copies raw bytes with strdup: each needs its terminating NUL.
            arguments: Arguments(
                executablePathOverride: program + [0], remainingValues: argv.dropFirst().map { $0 + [0] }),
            environment: .custom(prepared.environment),
            workingDirectory: FilePath(job.spec.workingDirectory),
            platformOptions: options)

        let maxOutput = min(self.maxOutput, job.spec.maxOutput)
        let errorTail = self.errorTail
        let execution: ExecutionResult<(OutputCapture, Data), SequenceOutput, SequenceOutput>
        do {
            execution = try await Subprocess.run(configuration, input: .none, output: .sequence, error: .sequence) {
                running in
                async let output = OutputCapture.collect(running.standardOutput, limit: maxOutput) {
                    // Over the limit: stop the command instead of leaving it blocked on a full pipe.
                    try? running.send(signal: .kill, toProcessGroup: true)
                }
                async let errors = OutputCapture.tail(running.standardError, keep: errorTail)
                return try await (output, errors)
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            return failure(126, "cannot run \(path): \(error)")
        }
        let (output, errors) = execution.closureResult
        let finished = Date()
        if output.exceeded {
            return ItemOutcome(
                status: .failed, output: output.data, errorOutput: errors,
                reason: "output exceeded the limit of \(maxOutput) bytes", startedAt: started, finishedAt: finished)
        }
        switch execution.terminationStatus {
        case .exited(let code):
            return ItemOutcome(
                status: code == 0 ? .succeeded : .failed, exitStatus: code, output: output.data,
                errorOutput: code == 0 ? Data() : errors, startedAt: started, finishedAt: finished)
        case .signaled(let signal):
            if Task.isCancelled { throw CancellationError() }
            return ItemOutcome(
                status: .failed, signal: signal, output: output.data, errorOutput: errors,
                reason: "killed by signal \(signal)", startedAt: started, finishedAt: finished)
        }
    }
}

import BatchStore
import Foundation

/// Runs a job's command once per item (one process per item, started with
/// `posix_spawn`: see `SpawnedProcess`). A worker pool runs it blocking, a
/// page of items at a time on one thread (`BlockingItemHandler`).
///
/// The command runs directly (no shell) in the job's working directory and
/// environment, in a process group of its own so that cancelling the item
/// kills whatever it started (TERM to the group, KILL after `killGrace`).
/// Its stdout is the item's result; exit status 0 is success; its stderr is
/// kept (the last `errorTail` bytes) for failures. An output over the job's
/// `maxOutput` stops the command (KILL to its group) and fails the item.
public struct CommandHandler: BlockingItemHandler {
    public var maxOutput: Int
    public var errorTail: Int
    public var killGrace: Duration
    private let commands = PreparedCommands()
    /// A stream job runs as its command's long-lived processes (`WorkerPool+Stream`).
    public var runsStreamProcesses: Bool { true }

    public init(maxOutput: Int = .max, errorTail: Int = 64 << 10, killGrace: Duration = .milliseconds(500)) {
        self.maxOutput = maxOutput
        self.errorTail = errorTail
        self.killGrace = killGrace
    }

    public func run(_ item: WorkItem, of job: Job) async throws -> ItemOutcome {
        let stop = StopSignal()
        let run = await withTaskCancellationHandler {
            await BlockingThreads.shared.value { [self, slot = WorkerPool.jobSlot] in
                attempt([item], of: job, slot: slot, timeout: nil, stop: stop)
            }
        } onCancel: {
            stop.trigger()
        }
        switch run {
        case .finished(let outcome): return outcome
        case .stopped: throw CancellationError()
        case .resourceFault(let reason):
            // Not the item's fault: it is handed back like a stopped one, and
            // the pool's slots wait (`ResourceFaults`).
            ResourceFaults.shared.failed(reason)
            throw CancellationError()
        }
    }

    func groupSize(_ items: ArraySlice<WorkItem>, of job: Job, slot: Int) -> Int {
        guard let grouping = job.spec.grouping, !items.isEmpty else { return min(1, items.count) }
        let builder = commands.prepared(for: job).builder
        // Lazily: only the items up to the group's end are converted.
        return builder.groupCount(items.lazy.map { .init(Array($0.data), line: $0.line) }, grouping: grouping, slot: slot)
    }

    func attempt(_ items: ArraySlice<WorkItem>, of job: Job, slot: Int, timeout: Double?, stop: StopSignal) -> BlockingRun {
        let run = attemptRun(items, of: job, slot: slot, timeout: timeout, stop: stop)
        guard job.spec.grouping != nil, case .finished(var outcome) = run, let first = items.first, let last = items.last
        else { return run }
        outcome.group = first.line...last.line
        return .finished(outcome)
    }

    private func attemptRun(_ items: ArraySlice<WorkItem>, of job: Job, slot: Int, timeout: Double?, stop: StopSignal) -> BlockingRun {
        let started = Date()
        let prepared = commands.prepared(for: job)
        let argv = prepared.builder.argv(for: items.map { .init(Array($0.data), line: $0.line) }, slot: slot)
        let item = items[items.startIndex]
        func failure(_ exitStatus: Int32, _ reason: String) -> ItemOutcome {
            ItemOutcome(
                status: .failed, exitStatus: exitStatus, errorOutput: Data(reason.utf8), reason: reason,
                startedAt: started, finishedAt: Date())
        }
        if argv.contains(where: { $0.contains(0) }) {
            return .finished(failure(126, "the item contains a NUL byte, which cannot be passed in an argument"))
        }
        guard let path = prepared.executable else {
            return .finished(failure(127, "command not found: \(Printable.text(argv.first ?? []))"))
        }

        let outputLimit = min(maxOutput, job.spec.maxOutput)
        let run = UInt64.random(in: 1...UInt64.max)
        let process = SpawnedProcess(
            path: path, argv: argv.map { $0 + [0] },
            environment: prepared.environment + CommandMarker.entries(job: job.id, line: item.line, run: run),
            workingDirectory: job.spec.workingDirectoryBytes, maxOutput: outputLimit,
            errorTail: errorTail, killGrace: killGrace)
        let result: SpawnedProcess.Result
        do {
            result = try process.runBlocking(deadline: timeout.map { .now + .seconds($0) }, stop: stop)
        } catch is CancellationError {
            return .stopped
        } catch let error as SpawnedProcess.SpawnError where error.errno == E2BIG {
            return .finished(failure(126, "cannot run \(Printable.text(path)): the command line is too long for the system (\(argv.reduce(0) { $0 + $1.count + 1 }) bytes of arguments)"))
        } catch let error as SpawnedProcess.SpawnError where ResourceFaults.isResourceErrno(error.errno) {
            return .resourceFault("\(error) (\(Printable.errnoName(error.errno)))")
        } catch let error as SpawnedProcess.SpawnError where error.errno == ENOENT || error.errno == ENOTDIR {
            // posix_spawn reports a missing working directory like a missing program.
            let folder = job.spec.workingDirectoryBytes
            if !ExecutableLocator.exists(folder + Array("/.".utf8)) {
                return .finished(failure(126, "the working directory \(Printable.text(folder)) no longer exists"))
            }
            return .finished(failure(126, "cannot run \(Printable.text(path)): \(error)"))
        } catch {
            return .finished(failure(126, "cannot run \(Printable.text(path)): \(error)"))
        }
        if result.stopped || result.timedOut || result.outputExceeded {
            // The group is dead; what left it (setsid) is found by its marker.
            OrphanReaper.kill(matching: [CommandMarker.runEntry(run)])
        }
        if result.stopped { return .stopped }
        let finished = Date()
        if result.timedOut {
            return .finished(ItemOutcome(
                // The signal that ended it: TERM, or KILL when TERM was not enough.
                status: .failed, signal: { if case .signaled(let signal) = result.termination { signal } else { SIGTERM } }(),
                output: result.output, errorOutput: result.errorTail,
                reason: "timed out after \(String(format: "%.3g", timeout ?? 0)) s", startedAt: started,
                finishedAt: finished))
        }
        if result.outputExceeded {
            return .finished(ItemOutcome(
                status: .failed, output: result.output, errorOutput: result.errorTail,
                reason: "output exceeded the limit of \(outputLimit) bytes", startedAt: started,
                finishedAt: finished))
        }
        switch result.termination {
        case .exited(let code):
            return .finished(ItemOutcome(
                status: code == 0 ? .succeeded : .failed, exitStatus: code, output: result.output,
                errorOutput: code == 0 ? Data() : result.errorTail, startedAt: started, finishedAt: finished))
        case .signaled(let signal):
            return .finished(ItemOutcome(
                status: .failed, signal: signal, output: result.output, errorOutput: result.errorTail,
                reason: "killed by signal \(signal)", startedAt: started, finishedAt: finished))
        }
    }
}

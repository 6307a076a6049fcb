import BatchStore
import Foundation
import Subprocess
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// Stream mode: one long-lived process per worker slot, fed the job's items on
/// its stdin; it must answer each with exactly one line on stdout, in order.
///
/// - Results go to the pool's committer in batches, each batch handed over as
///   soon as the process has no further answer ready; the committer records
///   them with the other slots' in group commits.
/// - The slot keeps claiming chunks of the same job and feeding the same
///   process; the process gets end-of-input when the job has nothing more.
/// - If the process exits (or is killed past the job's `--timeout` while an
///   item waits for its answer) before answering every item it was given,
///   answered items keep their results; the oldest unanswered item counts a
///   failed attempt (it failed for good once its retries are used up), and a
///   new process takes the other unanswered items.
extension WorkerPool {
    enum StreamEnd {
        /// No more work of the job for this slot.
        case finished
        /// The job ended, the lease was lost, or the pool stops; the lease the
        /// process was on (it may have moved past the first) is to be handed back.
        case stopped(ChunkLease)
        /// The process ended before answering; `unanswered` are in line order.
        case died(ChunkLease, unanswered: [WorkItem], reason: String, errorTail: Data)
    }

    func workStream(startingWith first: ChunkLease) async {
        var attempts: [Int64: Int] = [:]
        var next: (ChunkLease, [WorkItem]?)? = (first, nil)
        committer.begin(first)
        while let (lease, carried) = next, !isStopping {
            switch await runStreamProcess(lease, carried: carried, attempts: attempts) {
            case .finished:
                return
            case .stopped(let current):
                // The lease the process was on when it stopped, not the one it
                // started with: a later one left leased would be held by a live
                // daemon with no worker on it, renewed for ever (issue 9).
                await release(current)
                return
            case .died(let lease, let unanswered, let reason, let errorTail):
                // `unanswered` is every item of the lease still without a result.
                guard let blamed = unanswered.first else {
                    await committer.submit(lease, [], completesChunk: true)
                    next = await claimSameJob(after: lease).map { ($0.lease, $0.items) }
                    continue
                }
                let attempt = (attempts[blamed.line] ?? 0) + 1
                attempts[blamed.line] = attempt
                logger.notice("job \(lease.job.id): stream process \(reason) before answering line \(blamed.line); starting a new one", metadata: lease.logMetadata)
                if attempt > lease.job.spec.retries {
                    let failure = ItemOutcome(
                        status: .failed, errorOutput: errorTail, reason: "the stream process \(reason) before answering",
                        startedAt: Date(), finishedAt: Date())
                    await committer.submit(lease, [ItemRecord(blamed.line, failure, attempt)], completesChunk: unanswered.count == 1)
                    if let verdict = committer.verdict(for: lease), verdict != .recorded {
                        await release(lease)
                        return
                    }
                    next = unanswered.count > 1 ? (lease, Array(unanswered.dropFirst())) : nil
                } else {
                    guard await pause(seconds: lease.job.spec.retryDelay(after: attempt), holding: lease) else {
                        await release(lease)
                        return
                    }
                    next = (lease, unanswered)
                }
                if next == nil, let more = await claimSameJob(after: lease) { next = (more.lease, more.items) }
            }
        }
    }

    /// What a stream process reads for `items`: each one and its separator.
    static func payload(_ items: [WorkItem], separator: UInt8) -> [UInt8] {
        var payload: [UInt8] = []
        payload.reserveCapacity(items.reduce(0) { $0 + $1.data.count + 1 })
        for item in items {
            payload.append(contentsOf: item.data)
            payload.append(separator)
        }
        return payload
    }

    /// A path from its bytes, exactly (not through a String, which would
    /// replace bytes that are not UTF-8).
    static func filePath(_ bytes: [UInt8]) -> FilePath {
        (bytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { FilePath(platformString: $0.baseAddress!) }
        }
    }

    /// Runs one process: feeds it `lease` (its `carried` items, or its pending
    /// ones), then further chunks of the same job, until there are none.
    private func runStreamProcess(_ first: ChunkLease, carried: [WorkItem]?, attempts: [Int64: Int]) async -> StreamEnd {
        let prefetch = StreamPrefetch()
        let end = await runStreamProcess(first, carried: carried, attempts: attempts, prefetch: prefetch)
        // A next chunk claimed ahead and never fed (the process died, the
        // lease was lost, the pool stops) goes back at once.
        if let pending = prefetch.take(), let unused = await pending.value {
            logger.debug("job \(unused.lease.job.id): handing back lines \(unused.lease.firstLine)-\(unused.lease.lastLine), claimed ahead for a process that stopped", metadata: unused.lease.logMetadata)
            await release(unused.lease)
        }
        return end
    }

    private func runStreamProcess(
        _ first: ChunkLease, carried: [WorkItem]?, attempts: [Int64: Int], prefetch: StreamPrefetch
    ) async -> StreamEnd {
        let spec = first.job.spec
        let separator: UInt8 = spec.nulSeparated ? 0 : 10
        guard let program = spec.argumentBytes.first,
              let path = ExecutableLocator.locate(program, workingDirectory: spec.workingDirectoryBytes, environment: spec.environment)
        else {
            let unanswered: [WorkItem]? = if let carried { carried } else { await pendingItems(first) }
            guard let unanswered else { return .stopped(first) }
            let name = Printable.text(spec.argumentBytes.first ?? [])
            return .died(first, unanswered: unanswered, reason: "could not start (command not found: \(name))", errorTail: Data())
        }
        // swift-subprocess traps (a fatal error, not a thrown one) when it runs
        // out of descriptors half-way through setting up a process: start one
        // only with room to spare, else it is a fault of the daemon's resources.
        if let free = DescriptorBudget.free(), free < DescriptorBudget.perStreamProcess {
            ResourceFaults.shared.failed("only \(free) file descriptors left under the limit (EMFILE)")
            return .stopped(first)
        }
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: .milliseconds(500))]
        let environment = Environment.custom(
            spec.environment.map { Array($0) + [0] }.filter { !CommandMarker.isMarker($0) }
                + CommandMarker.entries(job: first.job.id, line: nil))
        let configuration: Configuration
        if String(validating: spec.workingDirectoryBytes, as: UTF8.self) != nil {
            configuration = Configuration(
                executable: .path(Self.filePath(path)),
                arguments: Arguments(executablePathOverride: program + [0], remainingValues: spec.argumentBytes.dropFirst().map { $0 + [0] }),
                environment: environment, workingDirectory: Self.filePath(spec.workingDirectoryBytes), platformOptions: options)
        } else {
            // swift-subprocess enters the working directory through a String, which
            // would replace its bytes that are not UTF-8: coreutils' `env -C` enters
            // it exactly, then runs the command.
            configuration = Configuration(
                executable: .path(FilePath("/usr/bin/env")),
                arguments: Arguments(
                    [Array("-C".utf8) + [0], spec.workingDirectoryBytes + [0], Array("--".utf8) + [0], path + [0]]
                        + spec.argumentBytes.dropFirst().map { $0 + [0] }),
                environment: environment, workingDirectory: nil, platformOptions: options)
        }
        let watch = StreamWatch(lease: first)
        let timeoutSeconds = timeout(for: first.job)
        let medianAnswer = medians.median(for: first.job.id)
        do {
            let result = try await Subprocess.run(configuration, input: .inputWriter, output: .sequence, error: .sequence) {
                execution -> StreamEnd in
                async let errorTail = OutputCapture.tail(execution.standardError, keep: 64 << 10)
                let pid = execution.processIdentifier.value
                // Unstructured because it must run beside the body's awaits on the
                // process's output; it is cancelled when the body returns.
                // Unstructured for the same reason: it kills the process past its
                // timeout, or at once when its job ends (cancel, halt) or its lease
                // is lost, whether or not the process is answering.
                let watchdog = Task { [watch, store, logger, warning = self.configuration.streamAnswerWarning] in
                    var tick = 0
                    // A process that drops or holds back lines (grep, mawk without
                    // -W interactive, python without -u) never answers: say so once.
                    let warnAfter = max(warning, 10 * (medianAnswer ?? 0))
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(50))
                        tick += 1
                        if let timeoutSeconds, watch.waitedLonger(than: timeoutSeconds) {
                            // The process group is the process's own (processGroupID = 0).
                            kill(-pid, SIGKILL)
                            return
                        }
                        if tick % 10 == 0 {
                            let (store, lease) = (store, watch.lease)
                            do {
                                let status = try await offloadedUntilCancelled { try store.leaseStatus(lease) }
                                faults.succeeded("checking a lease")
                                if status == .lost || status == .jobEnded {
                                    watch.markStopped()
                                    kill(-pid, SIGKILL)
                                    return
                                }
                            } catch {
                                faults.failed("checking a lease", error)
                            }
                        }
                        if let (line, waited) = watch.overdue(after: warnAfter) {
                            let warning = "the stream process has not answered line \(line) for \(Int(waited)) s; a stream command must write one line per item as soon as it has read it: one that drops lines (grep) or buffers its output (mawk without -W interactive, python without -u, sed without -u) never answers"
                            logger.warning("job \(watch.lease.job.id): \(warning)", metadata: watch.lease.logMetadata)
                            // For `status` too: the user may never read the daemon's log.
                            do {
                                let (store, job) = (store, watch.lease.job.id)
                                try await offloaded { try store.jobWarningRecord(job, warning, now: try store.storageClock()) }
                            } catch {
                                logger.error("job \(watch.lease.job.id): could not record the warning for status: \(error)", metadata: watch.lease.logMetadata)
                            }
                        }
                    }
                }
                defer { watchdog.cancel() }
                var reader = LineReader(execution.standardOutput, separator: separator, maxRecord: spec.maxOutput)
                var lease = first
                let firstItems: [WorkItem]? = if let carried { carried } else { await pendingItems(lease) }
                guard var items = firstItems else { return .stopped(lease) }
                // The previous chunk's writer: it goes on to write this chunk's
                // items (claimed ahead) and says whether it did.
                var previousWriting: Task<Bool, Never>?
                var stoppedWithItemsFed = false
                while true {
                    let writer = execution.standardInputWriter
                    let ahead: Task<ContinuedChunk?, Never>? = if shouldPrefetch(after: lease) {
                        prefetch.start { [current = lease] in await self.claimNext(after: current) }
                    } else {
                        nil
                    }
                    // Writing runs beside reading (a process answering a long chunk
                    // fills its stdout before it has read all its input). With the
                    // next chunk claimed ahead, its items follow at once, so the
                    // process never waits at a chunk boundary. True when they were
                    // written. The body never waits for a writer while answers are
                    // still to come: writing the next chunk needs the process to
                    // read, and it reads only while its answers are read. (Awaiting
                    // it at the end of each chunk hung stream mode whenever a
                    // chunk's items were more than the two pipes hold: 200 bytes
                    // an item of `cat` stopped after 2,000 items.) Each writer
                    // first waits for the one before it, so the items go in order.
                    let writing = Task { [items, previousWriting] () -> Bool in
                        let written = await previousWriting?.value ?? false
                        if !written { _ = try? await writer.write(Self.payload(items, separator: separator)) }
                        guard let ahead, let next = await ahead.value, let nextItems = next.items, !Task.isCancelled
                        else { return false }
                        return (try? await writer.write(Self.payload(nextItems, separator: separator))) != nil
                    }
                    previousWriting = writing
                    var results: [ItemRecord] = []
                    let chunkStarted = Date()
                    var started = chunkStarted
                    var now = chunkStarted
                    for (index, item) in items.enumerated() {
                        // An answer already read from the pipe is taken without a
                        // wait, so without reading the clocks: it arrived by the
                        // last read (`now`), and nothing is owed meanwhile. Two
                        // clock reads per item were 2.4% of the daemon's samples.
                        let ready = reader.hasBufferedRecord()
                        if !results.isEmpty, !ready {
                            // Nothing more is ready: hand over what is, so followers see it soon.
                            await committer.submit(lease, results, completesChunk: false)
                            results.removeAll(keepingCapacity: true)
                            if let verdict = committer.verdict(for: lease), verdict != .recorded {
                                writing.cancel()
                                return .stopped(lease)
                            }
                        }
                        if !ready { watch.awaiting(line: item.line) }
                        let answer: Data?
                        do {
                            answer = try await reader.next(terminated: true)
                        } catch {
                            writing.cancel()
                            await committer.submit(lease, results, completesChunk: false)
                            try? execution.send(signal: .kill, toProcessGroup: true)
                            return .died(lease, unanswered: Array(items[index...]), reason: "wrote a line over the output limit", errorTail: Data())
                        }
                        guard let output = answer else {
                            if watch.stopped {
                                writing.cancel()
                                await committer.submit(lease, results, completesChunk: false)
                                return .stopped(lease)
                            }
                            _ = await writing.value
                            await committer.submit(lease, results, completesChunk: false)
                            let reason = watch.timedOut
                                ? "timed out after \(String(format: "%.3g", timeoutSeconds ?? 0)) s" : "exited"
                            return .died(lease, unanswered: Array(items[index...]), reason: reason, errorTail: (try? await errorTail) ?? Data())
                        }
                        if !ready {
                            watch.awaiting(line: nil)
                            now = Date()
                        }
                        let attempt = attempts.isEmpty ? 1 : (attempts[item.line] ?? 0) + 1
                        results.append(ItemRecord(item.line, ItemOutcome(status: .succeeded, exitStatus: 0, output: output, startedAt: started, finishedAt: now), attempt))
                        started = now
                    }
                    watch.awaiting(line: nil)
                    await committer.submit(lease, results, completesChunk: true)
                    if let verdict = committer.verdict(for: lease), verdict != .recorded { return .stopped(lease) }
                    // The whole chunk's time, from its first answer awaited. (It was
                    // measured from the last answer: next to nothing, so every
                    // stream chunk was as large as allowed, and a job of slow
                    // items held its workers for up to 1,000 of them before a
                    // job of a higher priority got one.)
                    if let average = items.isEmpty ? nil : Date().timeIntervalSince(chunkStarted) / Double(items.count) {
                        sizer.observe(
                            job: lease.job.id, seconds: average,
                            bytes: Double(items.reduce(0) { $0 + $1.data.count }) / Double(items.count))
                    }
                    let prefetched = prefetch.take()
                    let claimed: ContinuedChunk? = if let prefetched {
                        await prefetched.value
                    } else if isStopping {
                        nil
                    } else {
                        await claimNext(after: lease)
                    }
                    guard let more = claimed else { break }
                    if isStopping {
                        await release(more.lease)
                        // Claimed ahead, its items are being (or were) written.
                        stoppedWithItemsFed = prefetched != nil
                        break
                    }
                    adopt(more.lease)
                    lease = more.lease
                    watch.lease = more.lease
                    guard let pending = more.items else {
                        try? await execution.standardInputWriter.finish()
                        return .stopped(lease)
                    }
                    items = pending
                }
                let input = execution.standardInputWriter
                if stoppedWithItemsFed {
                    // It was fed a chunk handed back since: its answers are read
                    // (not recorded) while the writer finishes, then its input ends.
                    async let closed: Void = { [previousWriting] in
                        _ = await previousWriting?.value
                        try? await input.finish()
                    }()
                    while (try? await reader.next()) != nil {}
                    await closed
                    _ = try? await errorTail
                    return .finished
                }
                // No chunk came after the last one: its writer has nothing left to write.
                _ = await previousWriting?.value
                try? await input.finish()
                // Anything the process writes after its last answer breaks the one-line-per-item contract.
                if let extra = try? await reader.next() {
                    logger.warning("job \(lease.job.id): the stream process wrote more lines than it was given items (first extra: \(Printable.text(Array(extra.prefix(80))))); results may be misaligned", metadata: lease.logMetadata)
                    while (try? await reader.next()) != nil {}
                }
                _ = try? await errorTail
                return .finished
            }
            return result.closureResult
        } catch {
            // The body may have moved on to later leases before this error: the
            // one to hand back or retry is the one it was on.
            let current = watch.lease
            if isStopping || Task.isCancelled { return .stopped(current) }
            if let code = (error as? SubprocessError)?.underlyingError?.rawValue, ResourceFaults.isResourceErrno(code) {
                ResourceFaults.shared.failed("\(error) (\(Printable.errnoName(code)))")
                return .stopped(current)
            }
            let unanswered: [WorkItem]? = if current == first, let carried { carried } else { await pendingItems(current) }
            guard let unanswered else {
                return .stopped(current)
            }
            return .died(current, unanswered: unanswered, reason: "could not start (\(error))", errorTail: Data())
        }
    }

    /// The lease's items without a result; `nil` when the store could not
    /// tell. Never `[]` for a failed read: an empty list completes the chunk,
    /// and its items would never run.
    private func pendingItems(_ lease: ChunkLease) async -> [WorkItem]? {
        do {
            let store = self.store
            let items = try await offloadedUntilCancelled {
                try store.itemsPending(for: lease, afterLine: lease.firstLine - 1, limit: Int(lease.lineCount))
            }
            faults.succeeded("reading items")
            return items
        } catch {
            faults.failed("reading items", error)
            return nil
        }
    }
}

/// What a stream process's watchdog sees: since when the process owes an
/// answer (on the monotonic clock: a step of the wall clock must not fail
/// items in flight), for which lease, and whether the watchdog killed it.
final class StreamWatch: Sendable {
    private struct State {
        var since: ContinuousClock.Instant?
        var line: Int64?
        var lease: ChunkLease
        var timedOut = false
        var stopped = false
        var warnedSince: ContinuousClock.Instant?
    }

    private let state: Mutex<State>

    init(lease: ChunkLease) { state = Mutex(State(lease: lease)) }

    /// The process owes an answer for `line` from now on (`nil`: it owes none).
    func awaiting(line: Int64?) {
        state.withLock { state in
            state.since = line == nil ? nil : .now
            state.line = line
        }
    }

    /// The lease whose items the process is given now.
    var lease: ChunkLease {
        get { state.withLock { $0.lease } }
        set { state.withLock { $0.lease = newValue } }
    }

    /// True (and remembered) when the current wait is longer than `seconds`.
    func waitedLonger(than seconds: Double) -> Bool {
        state.withLock { state in
            guard let since = state.since, ContinuousClock.now - since > .seconds(seconds) else { return false }
            state.timedOut = true
            return true
        }
    }

    /// The line owed for longer than `seconds`, once per wait.
    func overdue(after seconds: Double) -> (line: Int64, waited: Double)? {
        state.withLock { state in
            guard let since = state.since, let line = state.line, state.warnedSince != since else { return nil }
            let waited = ContinuousClock.now - since
            guard waited > .seconds(seconds) else { return nil }
            state.warnedSince = since
            return (line, Double(waited.components.seconds))
        }
    }

    /// The watchdog killed the process because its job ended or its lease was lost.
    func markStopped() { state.withLock { $0.stopped = true } }

    var timedOut: Bool { state.withLock { $0.timedOut } }
    var stopped: Bool { state.withLock { $0.stopped } }
}

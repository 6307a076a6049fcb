import BatchStore
import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What Ctrl-C (SIGINT) does to a command that follows a job, so that it
/// never exits in silence or leaves its progress line on the screen (issues 9
/// and 19). SIGTERM keeps its default: a supervisor or `timeout` ending the
/// CLI leaves the job running, as before.
///
/// - `run` started the work, so it stops it, as xargs, GNU parallel and
///   Pool users expect: the job is cancelled (running commands are killed,
///   recorded results kept) and one line says how far it got and how to run
///   the rest (`batch retry`).
/// - `follow` and `wait` only detach: the job goes on, and one line says how
///   to pick the stream up again (`--from N`, where N counts the entries
///   printed, failed ones included).
///
/// Guarantees: the cursor named is exact. Printing a page of results and
/// advancing the cursor happen under one lock that the handler takes too, so
/// it never names a cursor before or after what was printed.
enum Interruption {
    enum Action: Sendable {
        case cancelRun(store: any BatchStore, job: JobID)
        case detachFollow(job: JobID, unordered: Bool)
        case detachWait(job: JobID)
    }

    private struct State {
        var action: Action?
        var cursor: Int64 = 0
    }

    private static let state = Mutex(State())
    private static let sources = Mutex<[any DispatchSourceSignal]>([])

    /// Handles SIGINT from now on with `action`.
    static func install(_ action: Action, cursor: Int64 = 0) {
        state.withLock { $0 = State(action: action, cursor: cursor) }
        sources.withLock { sources in
            guard sources.isEmpty else { return }
            for number in [SIGINT] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { handle(number) }
                source.resume()
                sources.append(source)
            }
        }
    }

    /// Runs `print` (the printing of entries up to `cursor`) so that an
    /// interruption comes before or after it, never in the middle.
    static func printing(upTo cursor: Int64, _ print: () -> Void) {
        state.withLock { state in
            print()
            state.cursor = cursor
        }
    }

    private static func handle(_ number: Int32) {
        state.withLock { state in
            StatusLine.clear()
            switch state.action {
            case .cancelRun(let store, let job):
                StandardError.line(cancelled(store: store, job: job))
            case .detachFollow(let job, let unordered):
                StandardError.line(
                    "batch: stopped at cursor \(state.cursor); job \(job) goes on: batch follow \(job) --from \(state.cursor)\(unordered ? " --unordered" : "")")
            case .detachWait(let job):
                StandardError.line("batch: stopped waiting; job \(job) goes on: batch wait \(job)")
            case nil:
                break
            }
            exit(128 + number)
        }
    }

    private static func cancelled(store: any BatchStore, job id: JobID) -> String {
        do {
            let didCancel = try store.jobCancelIfRunnable(id, now: Date())
            guard let job = try store.jobFetch(id) else { return "batch: interrupted; job \(id) is gone" }
            guard didCancel else {
                return "batch: interrupted; job \(id) had already ended (\(job.state.rawValue)): batch results \(id)"
            }
            let rest = job.sealedAt == nil
                ? "run the rest with 'batch retry \(id)', and store the rest of its input with 'batch submit --resume \(id)'"
                : "run the rest with 'batch retry \(id)'"
            return "batch: interrupted: job \(id) cancelled with \(job.finishedCount) of \(job.itemCount)\(job.sealedAt == nil ? " so far" : "") items finished (running commands are killed); \(rest)"
        } catch {
            return "batch: interrupted; job \(id) could not be cancelled (\(error)): batch cancel \(id)"
        }
    }
}

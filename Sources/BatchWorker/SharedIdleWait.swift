import Synchronization

/// How an idle wait for work ended.
enum IdleWaitOutcome: Sendable {
    /// Some job is runnable: no wait was made (its chunks may all be taken,
    /// or its `-j` or rate reached): the slot backs off and claims again.
    case runnable
    /// The store changed during the wait: every waiting slot claims.
    case changed
    /// Nothing changed for the whole wait: the slots wait again.
    case quiet
    /// The store did not answer.
    case failed
}

/// The idle slots of one pool wait together: the first one to wait
/// watches the store's change feed, the others wait for its outcome. With
/// nothing to do, a daemon then asks the store about as often with sixteen
/// slots as with one (a couple of queries per second on a server, where each
/// is a round trip counted against everyone's database).
final class SharedIdleWait: Sendable {
    private let current = Mutex<Task<IdleWaitOutcome, Never>?>(nil)

    /// Waits for the wait under way, or starts one with `watch`.
    func wait(_ watch: @escaping @Sendable () async -> IdleWaitOutcome) async -> IdleWaitOutcome {
        let task = current.withLock { current -> Task<IdleWaitOutcome, Never> in
            if let current { return current }
            let task = Task { await watch() }
            current = task
            return task
        }
        let outcome = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            // A pool that stops cancels every slot: the wait ends with them.
            task.cancel()
        }
        current.withLock { if $0 == task { $0 = nil } }
        return outcome
    }
}

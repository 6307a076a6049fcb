import Foundation
import Synchronization

/// Runs a store call on a thread of its own (`BlockingThreads`), never on
/// Swift's cooperative threads: there are as many of those as cores (two
/// here), and a store call may block for its whole busy timeout (30 s) while
/// another process holds the write lock. Blocked there, it froze lease
/// renewal, the lease watchers and the shutdown grace timer with it.
public func offloaded<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        BlockingThreads.shared.run { continuation.resume(with: Result { try body() }) }
    }
}

/// Like `offloaded`, but gives up waiting after `limit`: `nil` then (the call
/// goes on on its thread, its result unused). For the last calls of a daemon
/// that stops, which must not hold up its exit for a store that does not
/// answer.
public func offloaded<T: Sendable>(within limit: Duration, _ body: @escaping @Sendable () throws -> T) async -> Result<T, any Error>? {
    await withCheckedContinuation { continuation in
        let once = ResumeOnce(continuation)
        BlockingThreads.shared.run { once.resume(Result { try body() }) }
        let nanoseconds = limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { once.resume(nil) }
    }
}

/// Like `offloaded`, but a cancelled caller stops waiting at once (with
/// `CancellationError`; the call goes on on its thread, its result unused):
/// for upkeep that must not hold up a graceful shutdown.
public func offloadedUntilCancelled<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let box = OnceBox<Result<T, any Error>>()
    let result = await withTaskCancellationHandler {
        await withCheckedContinuation { continuation in
            box.set(ResumeOnce(continuation))
            BlockingThreads.shared.run { box.resume(Result { try body() }) }
        }
    } onCancel: {
        box.resume(.failure(CancellationError()))
    }
    return try result.get()
}

/// Like `offloadedUntilCancelled`, but also gives up waiting after `limit`:
/// `nil` then. For a lease check, which must end within the lease even when
/// the store does not answer at all (a network link that went down).
public func offloadedUntilCancelled<T: Sendable>(within limit: Duration, _ body: @escaping @Sendable () throws -> T) async throws -> T? {
    let box = OnceBox<Result<T?, any Error>>()
    let result = await withTaskCancellationHandler {
        await withCheckedContinuation { continuation in
            box.set(ResumeOnce(continuation))
            BlockingThreads.shared.run { box.resume(Result { try body() }) }
            let nanoseconds = limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(max(0, nanoseconds)))) { box.resume(.success(nil)) }
        }
    } onCancel: {
        box.resume(.failure(CancellationError()))
    }
    return try result.get()
}

/// Holds the `ResumeOnce` of a continuation made after the cancellation
/// handler is installed (a cancel before it is set resumes it when set).
private final class OnceBox<T: Sendable>: Sendable {
    private let state = Mutex<(once: ResumeOnce<T>?, early: T?)>((nil, nil))

    func set(_ once: ResumeOnce<T>) {
        let early = state.withLock { state -> T? in
            state.once = once
            return state.early
        }
        if let early { once.resume(early) }
    }

    func resume(_ value: T) {
        let once = state.withLock { state -> ResumeOnce<T>? in
            if state.once == nil, state.early == nil { state.early = value }
            return state.once
        }
        once?.resume(value)
    }
}

/// A continuation resumed by whichever comes first.
final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, Never>?>

    init(_ continuation: CheckedContinuation<T, Never>) { self.continuation = Mutex(continuation) }

    var isDone: Bool { continuation.withLock { $0 == nil } }

    func resume(_ value: T) { continuation.withLock { $0.take() }?.resume(returning: value) }
}

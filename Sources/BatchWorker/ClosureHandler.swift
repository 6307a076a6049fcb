import BatchStore
import Foundation

/// An `ItemHandler` made of a Swift closure: the item's bytes in, its result
/// bytes out. A thrown error fails the item, with the error as its reason.
///
/// ```swift
/// let handler = ClosureHandler { item, _ in Data(item.data.reversed()) }
/// ```
public struct ClosureHandler: ItemHandler {
    let body: @Sendable (WorkItem, Job) async throws -> Data

    public init(_ body: @escaping @Sendable (WorkItem, Job) async throws -> Data) {
        self.body = body
    }

    public func run(_ item: WorkItem, of job: Job) async throws -> ItemOutcome {
        let started = Date()
        do {
            let output = try await body(item, job)
            return ItemOutcome(status: .succeeded, exitStatus: 0, output: output, startedAt: started, finishedAt: Date())
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            let reason = "\(error)"
            return ItemOutcome(
                status: .failed, errorOutput: Data(reason.utf8), reason: reason, startedAt: started, finishedAt: Date())
        }
    }
}

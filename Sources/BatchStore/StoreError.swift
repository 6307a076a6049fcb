/// An error at the store's boundary: a code to act on and a message for users.
/// The database's own error types never leak through the `BatchStore` seam.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The file exists but is not a batch database; it was left untouched.
        case notADatabase
        /// The database could not be opened or created.
        case cannotOpen
        case jobNotFound
        /// The operation does not apply to the job in its current state.
        case jobState
        /// Items were appended out of order (a second submitter, most likely).
        case itemOrder
        /// The store cannot answer now (locked beyond the busy timeout, full,
        /// an I/O error, unreachable): retry with backoff; nothing was changed.
        case unavailable
        /// A write broke one of the store's rules (a constraint): retrying
        /// the same write cannot succeed. A guard should have refused it: a
        /// bug, or a race the guards do not cover.
        case constraint
        /// Any other failure of the store.
        case storage
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// Whether the same call may succeed later (a fault of the store's
    /// state now, not of the call).
    public var isTransient: Bool { code == .unavailable }
}

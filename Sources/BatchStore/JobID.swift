/// The identifier of a job: a positive integer, unique within one store.
public struct JobID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: Int64

    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    /// Parses a job id as users type it (`42`); `nil` for anything else.
    public init?(parsing text: String) {
        guard let value = Int64(text), value > 0 else { return nil }
        self.rawValue = value
    }

    public var description: String { String(rawValue) }

    public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.rawValue < rhs.rawValue }
}

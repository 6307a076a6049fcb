/// How many items a worker claims at a time for one job.
public enum ChunkSizePolicy: Sendable, Hashable, CustomStringConvertible {
    /// Exactly this many items per chunk (fewer at the end of the input).
    case fixed(Int)
    /// Sized by each daemon from the measured time per item, so that claiming
    /// stays a small fraction of the work (see `AdaptiveChunkSizer`).
    case auto

    /// Parses `auto` or a positive integer.
    public init?(parsing text: String) {
        if text == "auto" { self = .auto; return }
        guard let value = Int(text), value > 0 else { return nil }
        self = .fixed(value)
    }

    /// The stored form: 0 means `auto`.
    public var storedValue: Int {
        switch self {
        case .auto: 0
        case .fixed(let n): n
        }
    }

    public init(storedValue: Int) {
        self = storedValue > 0 ? .fixed(storedValue) : .auto
    }

    public var description: String {
        switch self {
        case .auto: "auto"
        case .fixed(let n): String(n)
        }
    }
}

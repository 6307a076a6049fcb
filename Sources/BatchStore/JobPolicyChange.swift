/// New failure handling for a job that `batch retry` runs again: what it
/// replaces (`nil` keeps the job's own). Without it, a job halted by
/// `--halt now,fail=1` would halt again on the first failure of the retry.
public struct JobPolicyChange: Sendable, Hashable {
    public var retries: Int?
    /// `.some(nil)` removes the job's halt policy.
    public var halt: HaltPolicy??
    /// `.some(nil)` removes the job's timeout.
    public var timeout: ItemTimeout??

    public init(retries: Int? = nil, halt: HaltPolicy?? = nil, timeout: ItemTimeout?? = nil) {
        self.retries = retries
        self.halt = halt
        self.timeout = timeout
    }

    public static let unchanged = JobPolicyChange()

    public var isUnchanged: Bool { self == .unchanged }
}

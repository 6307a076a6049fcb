/// The life of a job. Every transition is one guarded write in the store.
///
/// ```
/// open ──seal──▶ sealed ──last result──▶ complete
///   │  │            │  │
///   │  └── halt ──▶ failed ◀── halt ─┘      (too many items failed: --halt)
///   └──cancel──▶ cancelled ◀──cancel──┘
/// complete, failed, cancelled ──retry──▶ sealed (or open)
/// ```
///
/// Who moves a job out of each state, also after a crash:
/// - `open`: the submitter seals it when its input ends. If the submitter
///   dies, the job stays open (its stored items are still processed) until
///   `batch submit --resume` appends the rest and seals it, or it is cancelled.
/// - `sealed`: whichever worker records the last missing result completes it,
///   in the same transaction as that result. Sealing a job whose every item
///   already has a result completes it at once (an empty input, for example).
/// - `failed`: the worker whose recorded failure reached the job's halt
///   policy, in that same transaction. With `--halt soon`, items already
///   running may still record their results.
/// - `complete`, `failed`, `cancelled`: final, unless `batch retry` puts
///   failed or unfinished items back, which makes the job sealed (or open, if
///   its input never completed) again.
public enum JobState: String, Sendable, Codable, CaseIterable {
    case open
    case sealed
    case complete
    case failed
    case cancelled

    /// Whether workers may still claim and record items of a job in this state.
    public var isRunnable: Bool { self == .open || self == .sealed }

    /// Whether the job will never change again.
    public var isFinal: Bool { !isRunnable }
}

/// Several consecutive items given to one run of the command, as xargs and
/// GNU parallel do (`-n N`, `-X`).
///
/// A group never spans two chunks, so it is claimed, fenced and recorded as
/// its chunk is. Its outcome maps to its items so that each item still has
/// exactly one result: every item of the group gets the group's status, exit
/// status and line range; the group's whole output (and stderr) is the result
/// of its first item, and the other items' outputs are empty. Input-order
/// output is then the output of each run, in input order: what xargs prints.
/// A failed group fails all its items; a retry runs the group again.
public enum ItemGrouping: Sendable, Hashable, CustomStringConvertible {
    /// At most this many items per run (`-n`), fewer when they would not fit
    /// the command line.
    case items(Int)
    /// As many items as fit the command line (`-X`).
    case fitCommandLine

    /// The stored form: N, or 0 for "as many as fit".
    public var storedValue: Int {
        switch self {
        case .items(let count): count
        case .fitCommandLine: 0
        }
    }

    public init(storedValue: Int) {
        self = storedValue > 0 ? .items(storedValue) : .fitCommandLine
    }

    /// The most items one run may take.
    public var maximumItems: Int {
        switch self {
        case .items(let count): count
        case .fitCommandLine: 100_000
        }
    }

    /// The unit chunks and pages are cut in, so that they hold whole groups:
    /// one group of `-n N`; for `-X`, enough items to fill several command
    /// lines (at most 5,000).
    public var chunkUnit: Int { min(maximumItems, 5000) }

    /// The most bytes the arguments of one run may take (each argument
    /// counted with its NUL and its pointer, as the kernel counts them):
    /// `-X` fills xargs' default command buffer, 128 KiB; `-n` may go up to
    /// 1 MiB, half of Linux's usual limit, leaving room for the environment.
    public var argumentBudget: Int {
        switch self {
        case .items: 1 << 20
        case .fitCommandLine: 128 << 10
        }
    }

    public var description: String {
        switch self {
        case .items(let count): "\(count) items per run"
        case .fitCommandLine: "as many items per run as fit"
        }
    }
}

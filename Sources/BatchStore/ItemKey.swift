/// How the SQLite store keys an item and its result (schema v11): one
/// integer, the job's id in the high bits and the line in the low 32, so
/// each table is a rowid table keyed by it. An append is the b-tree's
/// cheapest insert (at its end, on an integer key) and a job's lines are one
/// key range; with the key `(job_id, line)` of a WITHOUT ROWID table every
/// insert compared records down the tree (a C model of the cycle, a million
/// items: 1.35-1.37 s against 1.05-1.07 s with the integer key).
///
/// Limits that follow, refused with a clear error rather than wrapped: a job
/// holds at most `maxLine` items, and a store at most `maxJob` jobs. In SQL,
/// a key's line is `key & 4294967295` and its job `key >> 32`.
public enum ItemKey {
    /// The most items one job holds: 4,294,967,295.
    public static let maxLine: Int64 = 0xFFFF_FFFF
    /// The highest job id a SQLite store gives out.
    public static let maxJob: Int64 = Int64(Int32.max)

    /// The key of `line` of `job`.
    @inline(__always)
    public static func of(job: Int64, line: Int64) -> Int64 { job << 32 | line }

    /// The lowest and highest key `job` can have (its lines 0 and `maxLine`).
    public static func range(of job: Int64) -> ClosedRange<Int64> { of(job: job, line: 0)...of(job: job, line: maxLine) }
}

/// How a statement locks the job row it reads.
enum PostgresRowLock: String {
    /// A plain read.
    case none = ""
    /// `FOR NO KEY UPDATE`: writers of the job wait for each other, but a
    /// submitter's or claimer's referential check (`FOR KEY SHARE`) on it does
    /// not wait for the holder's transaction.
    case write = " FOR NO KEY UPDATE"
    /// `FOR UPDATE`: the row is about to be deleted; key checks wait.
    case delete = " FOR UPDATE"
}

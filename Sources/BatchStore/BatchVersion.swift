/// The release of batch, defined here only: `batch --version`, `batchd
/// --version`, `batch_build_info` and the Python package's metadata say the
/// same.
public enum BatchVersion {
    public static let number = "0.1.0"

    /// The git commit this build was made from (12 hex digits), or nil when
    /// it was not built from a git checkout (`Plugins/BuildCommit`).
    public static let commit: String? = BuildCommit.hash

    /// What `--version` prints: one line.
    public static func line(_ program: String) -> String {
        commit.map { "\(program) \(number) (commit \($0))" } ?? "\(program) \(number)"
    }
}

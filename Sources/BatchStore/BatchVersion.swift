/// The release of batch, defined here: `batch --version`, `batchd
/// --version` and `batch_build_info` print it. The Python package's
/// pyproject.toml, which cannot read Swift, repeats it, and
/// python/tests/test_version.py checks that the two agree.
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

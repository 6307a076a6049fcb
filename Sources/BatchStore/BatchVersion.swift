/// The release of batch, defined here only: `batch --version`, `batchd
/// --version` and the Python package's metadata say the same.
public enum BatchVersion {
    public static let number = "0.1.0"

    /// What `--version` prints.
    public static func line(_ program: String) -> String { "\(program) \(number)" }
}

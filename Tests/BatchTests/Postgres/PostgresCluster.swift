@testable import BatchPostgres
import Foundation
import Testing

/// The throw-away PostgreSQL cluster `scripts/test` starts
/// (`scripts/pg-cluster`) and names in `BATCH_TEST_POSTGRES` (key=value
/// form). Each test gets a database of its own, so every schema is fresh.
enum PostgresCluster {
    static var conninfo: String? {
        ProcessInfo.processInfo.environment["BATCH_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A new, empty database; its connection string. A missing server fails
    /// the test: it is not skipped.
    static func freshDatabase() throws -> String {
        guard let base = conninfo else {
            Issue.record("no PostgreSQL server: run the tests with scripts/test, which starts one (BATCH_TEST_POSTGRES)")
            throw CancellationError()
        }
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let admin = try PostgresConnection(conninfo: base)
        defer { admin.close() }
        try admin.execute("CREATE DATABASE \(name)")
        // In key=value form a later keyword wins.
        return base + " dbname=\(name)"
    }
}

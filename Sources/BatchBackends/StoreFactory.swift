import BatchPostgres
import BatchStore

/// Opens the store at a location: the one place that knows which backend
/// serves which kind of location. A target of its own, above the backends,
/// so that the store library itself links no database client.
public enum StoreFactory {
    public static func open(_ location: StoreLocation) throws -> any BatchStore {
        switch location {
        case .file(let path): try SQLiteStore(path: path)
        case .postgres(let conninfo): try PostgresStore(conninfo: conninfo)
        }
    }
}

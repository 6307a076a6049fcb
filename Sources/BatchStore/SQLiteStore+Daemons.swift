import Foundation
import GRDB

extension SQLiteStore {
    public func daemonRegister(_ daemon: DaemonRecord) throws {
        try write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO daemon (id, host, pid, process_start, workers, started_at, heartbeat_at, uid, machine, version)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [daemon.id, daemon.host, daemon.pid, daemon.processStart, daemon.workers,
                            daemon.startedAt.timeIntervalSince1970, daemon.heartbeatAt.timeIntervalSince1970,
                            daemon.uid.map { Int64($0) }, daemon.machineID, daemon.version])
        }
    }

    public func daemonHeartbeat(id: String, now: Date) throws -> Bool {
        try write { db in
            try db.execute(sql: "UPDATE daemon SET heartbeat_at = ? WHERE id = ?", arguments: [now.timeIntervalSince1970, id])
            return db.changesCount > 0
        }
    }

    public func daemonsList() throws -> [DaemonRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM daemon ORDER BY started_at").map { row in
                DaemonRecord(
                    id: row["id"], host: row["host"], pid: row["pid"], processStart: row["process_start"],
                    workers: row["workers"], startedAt: Date(timeIntervalSince1970: row["started_at"]),
                    heartbeatAt: Date(timeIntervalSince1970: row["heartbeat_at"]),
                    uid: (row["uid"] as Int64?).map { UInt32(truncatingIfNeeded: $0) }, machineID: row["machine"], version: row["version"])
            }
        }
    }

    public func daemonDeleteReleasingChunks(id: String) throws -> Int {
        try write { db in
            try db.execute(sql: "DELETE FROM daemon WHERE id = ?", arguments: [id])
            return try Self.releaseChunks(db, owner: id)
        }
    }
}

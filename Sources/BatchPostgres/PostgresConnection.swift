import BatchStore
import CLibPQ
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One libpq connection, used by one caller at a time (the store serialises
/// its calls on it). Parameters go as text, `bytea` values as binary;
/// results come back as text (`bytea` in its hex form, decoded here).
///
/// libpq is synchronous, like the `BatchStore` seam: the worker already makes
/// every store call on a thread of its own (`offloaded`), so a blocking
/// client costs nothing there, and it brings what a psql user expects for
/// free: URI and key=value connection strings, `PG*` variables, `~/.pgpass`,
/// `sslmode`.
final class PostgresConnection: @unchecked Sendable {
    private let conninfo: String
    private var connection: OpaquePointer?
    /// How the connection is shown: no password, ever.
    let displayName: String

    init(conninfo: String) throws {
        self.conninfo = conninfo
        guard batch_pq_load() == 0 else {
            throw StoreError(.cannotOpen, String(cString: batch_pq_error()))
        }
        displayName = Self.redacted(conninfo)
        connection = batch_pq_connect(conninfo, ProcessInfo.processInfo.processName)
        guard batch_PQstatus(connection) == CONNECTION_OK else {
            let message = Self.lastError(connection)
            batch_PQfinish(connection)
            connection = nil
            throw StoreError(.unavailable, "cannot connect to \(displayName): \(message)")
        }
        configureSession()
    }

    /// Settings of every session, also after a reconnection (which starts a
    /// new one). Notices (a table that already exists, ...) are not the
    /// user's business. And no bitmap scans: every read of batch's is a
    /// range of an index in its order (a page of results by line or by
    /// sequence, the items of a chunk), and on a table not yet analyzed
    /// (right after a big job, until autovacuum's next round) the planner
    /// took a page of 512 results by a bitmap scan of every row after the
    /// cursor and a sort: 20-40 ms a page, so `batch wait` took 30 s to print
    /// 200,000 results it now prints in half a second.
    private func configureSession() {
        let result = batch_PQexec(connection, "SET client_min_messages = warning; SET enable_bitmapscan = off")
        batch_PQclear(result)
    }

    deinit { batch_PQfinish(connection) }

    func close() {
        batch_PQfinish(connection)
        connection = nil
        prepared = [:]
    }

    /// Runs several statements, with no parameters (a migration): the
    /// simple query protocol, which takes a script.
    func executeScript(_ sql: String) throws {
        try reconnectIfNeeded()
        let result = batch_PQexec(connection, sql)
        defer { batch_PQclear(result) }
        let status = batch_PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw failure(result) }
    }

    /// The channels this session listens on: a new session (after a
    /// reconnection) listens on none.
    private var channels: Set<String> = []
    /// The statements prepared on this session, by text (`preparedName`).
    private var prepared: [String: String] = [:]

    /// Listens on `channel`, once per session.
    func listen(_ channel: String) throws {
        try reconnectIfNeeded()
        guard !channels.contains(channel) else { return }
        try execute("LISTEN \(channel)")
        channels.insert(channel)
    }

    private func reconnectIfNeeded() throws {
        if connection == nil || batch_PQstatus(connection) != CONNECTION_OK {
            channels = []
            prepared = [:]
            // One reconnection: a server restart or a terminated backend is
            // not the caller's failure unless it lasts.
            if connection == nil { connection = batch_pq_connect(conninfo, ProcessInfo.processInfo.processName) } else { batch_PQreset(connection) }
            guard batch_PQstatus(connection) == CONNECTION_OK else {
                throw StoreError(.unavailable, "\(displayName) does not answer: \(Self.lastError(connection))")
            }
            configureSession()
        }
    }

    /// The error a failed result means.
    private func failure(_ result: OpaquePointer?) -> StoreError {
        let code = batch_PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
        let message = batch_PQresultErrorMessage(result).map { String(cString: $0) }?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? Self.lastError(connection)
        return StoreError(
            Self.code(sqlState: code, connectionLost: batch_PQstatus(connection) != CONNECTION_OK),
            "\(displayName): \(message.isEmpty ? Self.lastError(connection) : message)")
    }

    /// Runs one statement. `parameters` are bound as $1, $2...
    @discardableResult
    func execute(_ sql: String, _ parameters: [PostgresValue] = []) throws -> PostgresResult {
        try reconnectIfNeeded()
        var texts: [[CChar]?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        var blobs: [Data] = []
        for parameter in parameters {
            switch parameter {
            case .null:
                texts.append(nil); lengths.append(0); formats.append(0)
            case .text(let text):
                texts.append(Array(text.utf8CString)); lengths.append(0); formats.append(0)
            case .bytes(let data):
                texts.append(nil); lengths.append(Int32(data.count)); formats.append(1)
                blobs.append(data)
            }
        }
        // Binary values are passed by pointer: keep them alive for the call.
        var blobIndex = 0
        var pointers: [UnsafePointer<CChar>?] = []
        var allocations: [UnsafeMutablePointer<CChar>] = []
        defer { allocations.forEach { $0.deallocate() } }
        for (index, parameter) in parameters.enumerated() {
            switch parameter {
            case .null:
                pointers.append(nil)
            case .text:
                let text = texts[index]!
                let copy = UnsafeMutablePointer<CChar>.allocate(capacity: text.count)
                copy.initialize(from: text, count: text.count)
                allocations.append(copy)
                pointers.append(UnsafePointer(copy))
            case .bytes:
                let data = blobs[blobIndex]
                blobIndex += 1
                let copy = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, data.count))
                data.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { copy.update(from: base.assumingMemoryBound(to: CChar.self), count: data.count) }
                }
                allocations.append(copy)
                pointers.append(UnsafePointer(copy))
            }
        }
        let result: OpaquePointer?
        if let name = try preparedName(sql) {
            result = batch_PQexecPrepared(connection, name, Int32(parameters.count), pointers, lengths, formats, 0)
        } else {
            result = batch_PQexecParams(connection, sql, Int32(parameters.count), nil, pointers, lengths, formats, 0)
        }
        let status = batch_PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let error = failure(result)
            batch_PQclear(result)
            throw error
        }
        return PostgresResult(result)
    }

    /// The name `sql` is prepared under on this session, preparing it on
    /// its first use. batch's statements are a fixed set run over and over
    /// (a claim is a handful of them, a group commit a few more): parsed and
    /// planned once per session, not once per call, they cost the server
    /// (the store's bottleneck on a small machine) less per round trip.
    /// Past `preparedLimit` distinct texts (a statement with a value spelled
    /// into it would be new every time), statements run unprepared.
    private func preparedName(_ sql: String) throws -> String? {
        if let name = prepared[sql] { return name }
        guard prepared.count < Self.preparedLimit else { return nil }
        let name = "batch_\(prepared.count + 1)"
        let result = batch_PQprepare(connection, name, sql, 0, nil)
        defer { batch_PQclear(result) }
        guard batch_PQresultStatus(result) == PGRES_COMMAND_OK else { throw failure(result) }
        prepared[sql] = name
        return name
    }

    static let preparedLimit = 256

    /// Notifications received so far, read and dropped: how many.
    @discardableResult
    func drainNotifications() -> Int {
        guard let connection else { return 0 }
        batch_PQconsumeInput(connection)
        var count = 0
        while let notification = batch_PQnotifies(connection) {
            batch_PQfreemem(notification)
            count += 1
        }
        return count
    }

    /// Waits until the server sends something (a notification) or `timeout`
    /// seconds pass; whether something came.
    func waitForInput(timeout: TimeInterval) -> Bool {
        guard let connection else { return false }
        let socket = batch_PQsocket(connection)
        guard socket >= 0 else { return false }
        var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(max(0, min(Double(Int32.max), timeout * 1000)))
        return poll(&poller, 1, milliseconds) > 0
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back
    /// when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// What a failure means to the caller (`StoreError.Code`).
    static func code(sqlState: String, connectionLost: Bool) -> StoreError.Code {
        if connectionLost || sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") || sqlState.hasPrefix("53") {
            return .unavailable  // connection, shutdown, resources: retry
        }
        if sqlState.hasPrefix("40") || sqlState == "55P03" { return .unavailable }  // serialization, deadlock, lock timeout
        if sqlState.hasPrefix("23") { return .constraint }
        return .storage
    }

    static func lastError(_ connection: OpaquePointer?) -> String {
        batch_PQerrorMessage(connection).map { String(cString: $0) }?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown error"
    }

    /// The connection string as a URL without its password (or any other
    /// secret): what messages, logs and `status` show.
    static func redacted(_ conninfo: String) -> String {
        guard batch_pq_load() == 0 else { return StoreLocation.postgres(conninfo).description }
        var error: UnsafeMutablePointer<CChar>?
        guard let options = batch_PQconninfoParse(conninfo, &error) else {
            if let error { batch_PQfreemem(error) }
            return "postgresql://(unparsable connection string)"
        }
        defer { batch_PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        let user = values["user"].map { $0 + "@" } ?? ""
        let host = values["host"] ?? values["hostaddr"] ?? ""
        let port = values["port"].map { ":" + $0 } ?? ""
        let database = values["dbname"] ?? ""
        if host.hasPrefix("/") {
            return "postgresql://\(user)/\(database)?host=\(host)\(port.isEmpty ? "" : "&port=" + port.dropFirst())"
        }
        return "postgresql://\(user)\(host)\(port)/\(database)"
    }
}

/// A statement parameter.
enum PostgresValue {
    case null
    case text(String)
    case bytes(Data)

    static func int(_ value: Int64?) -> PostgresValue { value.map { .text(String($0)) } ?? .null }
    static func int(_ value: Int?) -> PostgresValue { value.map { .text(String($0)) } ?? .null }
    static func double(_ value: Double?) -> PostgresValue { value.map { .text(String($0)) } ?? .null }
    static func string(_ value: String?) -> PostgresValue { value.map { .text($0) } ?? .null }
}

/// A statement's rows, read as text.
final class PostgresResult {
    private let result: OpaquePointer?

    init(_ result: OpaquePointer?) { self.result = result }
    deinit { batch_PQclear(result) }

    var count: Int { Int(batch_PQntuples(result)) }
    /// Rows changed by an INSERT, UPDATE or DELETE.
    var changed: Int { batch_PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? 0 }

    func isNull(_ row: Int, _ column: Int) -> Bool { batch_PQgetisnull(result, Int32(row), Int32(column)) == 1 }

    func string(_ row: Int, _ column: Int) -> String? {
        isNull(row, column) ? nil : String(cString: batch_PQgetvalue(result, Int32(row), Int32(column)))
    }

    func int(_ row: Int, _ column: Int) -> Int64? { string(row, column).flatMap { Int64($0) } }
    func double(_ row: Int, _ column: Int) -> Double? { string(row, column).flatMap { Double($0) } }
    func bool(_ row: Int, _ column: Int) -> Bool? { string(row, column).map { $0 == "t" } }

    /// A `bytea` column (text format: `\x` and hex digits).
    func data(_ row: Int, _ column: Int) -> Data? {
        guard !isNull(row, column), let pointer = batch_PQgetvalue(result, Int32(row), Int32(column)) else { return nil }
        let length = Int(batch_PQgetlength(result, Int32(row), Int32(column)))
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            guard length >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x") else {
                return Data(UnsafeBufferPointer(start: bytes, count: length))
            }
            var data = Data(capacity: (length - 2) / 2)
            var index = 2
            func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
            while index + 1 < length {
                data.append(nibble(bytes[index]) << 4 | nibble(bytes[index + 1]))
                index += 2
            }
            return data
        }
    }
}

import BatchStore
import Foundation
import Hummingbird
import Logging

/// `batch ui`: a web dashboard over one store, read through `BatchStore` as
/// any follower reads it (daemons may serve the jobs meanwhile). Built on
/// Hummingbird; its pages (HTML, CSS, plain JavaScript) are in the binary
/// (`DashboardPages`). Safe by default: loopback unless told otherwise, a
/// random token on every request (`DashboardAccess`), user data shown only
/// as text, and updates pushed by Server-Sent Events fed by the store's
/// change feed (`storageWaitForChange`), not by polling pages.
public struct Dashboard: Sendable {
    public let store: any BatchStore
    public let host: String
    public let port: Int
    public let token: String

    public init(store: any BatchStore, host: String, port: Int, token: String = Dashboard.newToken()) {
        self.store = store
        self.host = host
        self.port = port
        self.token = token
    }

    /// 24 random bytes, hex.
    public static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Serves until cancelled (or SIGINT / SIGTERM); `onListening` is given
    /// the port it listens on (the one asked for, or the one the system
    /// chose for port 0).
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let router = Router()
        router.add(middleware: DashboardAccess(token: token))
        DashboardRoutes(queries: DashboardQueries(store: store), store: store, token: token).add(to: router)
        var logger = Logger(label: "batch-ui")
        logger.logLevel = .warning
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "batch-ui"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) }, logger: logger)
        try await app.runService()
    }
}

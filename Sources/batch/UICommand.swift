import ArgumentParser
import BatchDashboard
import BatchStore
import Foundation

/// `batch ui`: the web dashboard for the database (`Dashboard`).
struct UICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui",
        abstract: "Serve a web dashboard of the database's jobs, updated as they run.",
        discussion: """
            Prints a URL with a random token, as Jupyter does: every request without the token is \
            refused. Listens on loopback unless told otherwise; from another machine, use an SSH tunnel \
            (ssh -L 8080:127.0.0.1:8080 HOST) rather than --listen 0.0.0.0. Stops on Ctrl-C.

            Example:
              batch ui --listen 127.0.0.1:8080

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Option(help: "HOST:PORT to listen on (port 0: any free port).")
    var listen = "127.0.0.1:8080"

    func validate() throws {
        guard Self.address(listen) != nil else {
            throw ValidationError("--listen takes HOST:PORT, as in 127.0.0.1:8080 (got '\(listen)')")
        }
    }

    static func address(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        let host = String(text[..<colon])
        return host.isEmpty ? nil : (host, port)
    }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            let (host, port) = Self.address(listen)!
            let dashboard = Dashboard(store: db, host: host, port: port)
            let token = dashboard.token
            do {
                try await dashboard.run { actual in
                    let shown = host.contains(":") ? "[\(host)]" : host
                    writeAll(1, Array("http://\(shown):\(actual)/?token=\(token)\n".utf8))
                }
            } catch {
                throw CLIError(.unavailable, "cannot serve the dashboard on \(listen): \(error)")
            }
        }
    }
}

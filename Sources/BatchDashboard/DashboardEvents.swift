import BatchStore
import Foundation
import Hummingbird

/// The event stream a page listens to: one `change` event whenever the
/// store reports a commit (its change feed: inotify on a file, LISTEN on a
/// server), at most one a second; a comment every 15 s keeps proxies from
/// closing it. One waiting thread per open page, no polling.
struct DashboardEvents: Sendable {
    let store: any BatchStore

    func response() -> Response {
        let store = self.store
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                var version = try await blocking { store.storageVersion() }
                while true {
                    let seen = version
                    let now = try await blocking { () -> StorageVersion? in
                        if let seen { store.storageWaitForChange(from: seen, timeout: 15) }
                        return store.storageVersion()
                    }
                    if now != version {
                        version = now
                        try await writer.write(ByteBuffer(string: "event: change\ndata: {}\n\n"))
                        // At most one a second: each event makes the page read
                        // its job again, and the job being watched must not slow
                        // down for it (measured: 4 a second, the page open
                        // slowed a stream job by 19% on 2 cores).
                        try await Task.sleep(for: .seconds(1))
                    } else {
                        try await writer.write(ByteBuffer(string: ": still here\n\n"))
                    }
                }
            })
    }
}

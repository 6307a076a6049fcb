import BatchStore
import Foundation
import Hummingbird

/// The pages, the JSON they read, the event stream and the actions.
struct DashboardRoutes: Sendable {
    let queries: DashboardQueries
    let store: any BatchStore
    /// Put in each page for its script's POSTs (`X-Batch-Token`): the page
    /// was served to a holder of the token.
    let token: String

    func add(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in html(DashboardPages.jobs) }
        router.get("/daemons") { _, _ in html(DashboardPages.daemons) }
        router.get("/jobs/:id") { _, _ in html(DashboardPages.job) }
        router.get("/jobs/:id/items/:line") { _, _ in html(DashboardPages.item) }
        router.get("/app.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: DashboardPages.script)))
        }

        router.get("/api/jobs") { request, _ in
            let limit = min(1000, max(1, request.uri.queryParameters.get("limit", as: Int.self) ?? 50))
            let state = request.uri.queryParameters.get("state").flatMap { JobState(rawValue: $0) }
            // Pages by job id (newest first): the next page starts below the last id shown.
            let before = request.uri.queryParameters.get("before", as: Int64.self).map(JobID.init)
            return try await Self.json { try queries.jobs(limit: limit, states: state.map { [$0] }, before: before) }
        }
        router.get("/api/jobs/:id") { request, context in
            let id = try Self.job(context)
            let history = request.uri.queryParameters.get("history") == "1"
            return try await Self.json { try queries.job(id, history: history) ?? { throw HTTPError(.notFound, message: "no job \(id)") }() }
        }
        router.get("/api/jobs/:id/items") { request, context in
            let id = try Self.job(context)
            let query = request.uri.queryParameters
            let completion = query.get("order") == "completion"
            let after = max(0, query.get("after", as: Int64.self) ?? 0)
            let limit = min(500, max(1, query.get("limit", as: Int.self) ?? 50))
            return try await Self.json { try queries.items(id, completionOrder: completion, after: after, limit: limit) }
        }
        router.get("/api/jobs/:id/items/:line") { _, context in
            let id = try Self.job(context)
            guard let line = context.parameters.get("line", as: Int64.self) else { throw HTTPError(.badRequest) }
            return try await Self.json { try queries.item(id, line: line) ?? { throw HTTPError(.notFound, message: "no line \(line)") }() }
        }
        router.get("/api/daemons") { _, _ in try await Self.json { try queries.daemons() } }
        router.get("/events") { _, _ in DashboardEvents(store: store).response() }

        router.post("/api/jobs/:id/cancel") { _, context in
            let id = try Self.job(context)
            return try await Self.action { _ = try store.jobCancelIfRunnable(id, now: Date()) }
        }
        router.post("/api/jobs/:id/retry") { _, context in
            let id = try Self.job(context)
            return try await Self.action { _ = try store.jobRetryIfEnded(id, lines: nil, policy: JobPolicyChange(), now: Date()) }
        }
        router.post("/api/jobs/:id/priority") { request, context in
            let id = try Self.job(context)
            guard let value = request.uri.queryParameters.get("value", as: Int.self) else { throw HTTPError(.badRequest, message: "value=N") }
            return try await Self.action { try store.jobPrioritySetIfRunnable(id, priority: value) }
        }
        router.post("/api/jobs/:id/remove") { _, context in
            let id = try Self.job(context)
            return try await Self.action { try store.jobDelete(id, force: false) }
        }
    }

    static func job(_ context: BasicRequestContext) throws -> JobID {
        guard let raw = context.parameters.get("id", as: Int64.self), raw > 0 else { throw HTTPError(.badRequest, message: "a job id") }
        return JobID(raw)
    }

    func html(_ page: String) -> Response {
        let withToken = page.replacingOccurrences(of: "<head>", with: "<head><meta name=\"batch-token\" content=\"\(token)\">")
        return Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8", .contentSecurityPolicy: DashboardPages.policy, .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: withToken)))
    }

    /// A store call off the server's threads, its answer as JSON.
    static func json<T: Encodable>(_ body: @escaping @Sendable () throws -> T) async throws -> Response {
        let data = try await blocking {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            return try encoder.encode(body())
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A change: 204, or 409 with the store's reason (a job that is not in a
    /// state for it).
    static func action(_ body: @escaping @Sendable () throws -> Void) async throws -> Response {
        do {
            try await blocking(body)
            return Response(status: .noContent)
        } catch let error as StoreError {
            return Response(status: .conflict, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: error.message)))
        }
    }
}

/// Runs a blocking store call on a thread of its own.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

import Foundation
import HTTPTypes
import Hummingbird

/// Every request must carry the dashboard's token, as Jupyter's does: in
/// the URL printed at start (`?token=`), which sets a cookie for the pages
/// after it, or in the cookie, or in the `X-Batch-Token` header. A request
/// without it is refused (403) before anything is read. A request that
/// changes something must also be a POST with the token in its header (a
/// cookie alone is what a forged cross-site form would carry) and, when the
/// browser names its origin, come from the dashboard's own (the origin of
/// the host it addressed).
struct DashboardAccess<Context: RequestContext>: RouterMiddleware {
    let token: String

    static var cookieName: String { "batch_ui_token" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let fromQuery = request.uri.queryParameters.get("token")
        let fromHeader = request.headers[HTTPField.Name("X-Batch-Token")!]
        let fromCookie = request.cookies[Self.cookieName]?.value
        if request.method == .post {
            guard fromHeader.map(matches) == true else { return refused("a change needs the token in its X-Batch-Token header") }
            if let origin = request.headers[.origin], origin != "http://" + (request.head.authority ?? "") {
                return refused("this request comes from another origin (\(origin))")
            }
            return try await next(request, context)
        }
        guard [fromQuery, fromHeader, fromCookie].contains(where: { $0.map(matches) == true }) else {
            return refused("no token: open the URL batch ui printed (it ends in ?token=...)")
        }
        var response = try await next(request, context)
        if fromQuery.map(matches) == true {
            response.setCookie(Cookie(name: Self.cookieName, value: token, path: "/", httpOnly: true, sameSite: .strict))
        }
        return response
    }

    /// Compared in constant time.
    private func matches(_ candidate: String) -> Bool {
        let a = Array(candidate.utf8), b = Array(token.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private func refused(_ why: String) -> Response {
        Response(status: .forbidden, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: "forbidden: \(why)\n")))
    }
}

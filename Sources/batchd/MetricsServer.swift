import BatchStore
import BatchWorker
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// Serves the daemon's operational endpoints on the `--metrics` address, as
/// a service of the daemon's group (it stops with the daemon):
/// - `/metrics`: Prometheus' text format (`DaemonMetrics`);
/// - `/healthz`: 200 while every loop of the daemon is alive (`LoopLiveness`),
///   503 and the reason otherwise;
/// - `/readyz`: 200 when the daemon could write to the store within a
///   second, 503 and a one-line reason otherwise.
/// `HEAD` answers as `GET` without the body, on every path.
struct MetricsServer: Service {
    let host: String
    let port: Int
    let endpoints: DaemonEndpoints
    let logger: Logger

    func run() async throws {
        let endpoints = self.endpoints
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(EndpointHandler(endpoints: endpoints))
                }
            }
            .bind(host: host, port: port)
            .get()
        let address = channel.localAddress.map { "\($0.ipAddress ?? host):\($0.port ?? port)" } ?? "\(host):\(port)"
        logger.info("metrics on http://\(address)/metrics (health: /healthz, /readyz)")
        try? await gracefulShutdown()
        try await channel.close()
    }
}

/// What each path answers: a status and a body.
struct DaemonEndpoints: Sendable {
    let metrics: DaemonMetrics
    let liveness: LoopLiveness
    /// How long one pass of a loop may last before `/healthz` fails.
    let livenessLimit: Double
    let store: any BatchStore

    func answer(path: Substring) async -> (status: HTTPResponseStatus, contentType: String, body: [UInt8]) {
        switch path {
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", await metrics.scrape())
        case "/healthz":
            if let problem = liveness.problem(limit: livenessLimit) { return (.serviceUnavailable, "text/plain", Array("\(problem)\n".utf8)) }
            return (.ok, "text/plain", Array("ok\n".utf8))
        case "/readyz":
            let store = self.store
            switch await offloaded(within: .milliseconds(1500), { try store.storageProbeWrite(timeout: 1) }) {
            case .success?: return (.ok, "text/plain", Array("ok\n".utf8))
            case .failure(let error)?:
                return (.serviceUnavailable, "text/plain", Array("cannot write to the store: \(Printable.text(String(describing: error)))\n".utf8))
            case nil: return (.serviceUnavailable, "text/plain", Array("cannot write to the store: no answer within a second\n".utf8))
            }
        default:
            return (.notFound, "text/plain", Array("not found: try /metrics, /healthz or /readyz\n".utf8))
        }
    }
}

/// Answers each request from `DaemonEndpoints`, off the event loop (a
/// readiness probe may wait a second for the store), then closes.
final class EndpointHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let endpoints: DaemonEndpoints

    init(endpoints: DaemonEndpoints) { self.endpoints = endpoints }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let known = request.method == .GET || request.method == .HEAD
        let head = request.method == .HEAD
        let bound = NIOLoopBound((context, self), eventLoop: context.eventLoop)
        let endpoints = self.endpoints
        let eventLoop = context.eventLoop
        Task {
            let answer = known
                ? await endpoints.answer(path: path)
                : (HTTPResponseStatus.methodNotAllowed, "text/plain", Array("only GET and HEAD\n".utf8))
            eventLoop.execute {
                let (context, handler) = bound.value
                handler.respond(context: context, version: request.version, answer: answer, withBody: !head)
            }
        }
    }

    private func respond(
        context: ChannelHandlerContext, version: HTTPVersion,
        answer: (status: HTTPResponseStatus, contentType: String, body: [UInt8]), withBody: Bool
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: answer.contentType)
        headers.add(name: "Content-Length", value: String(answer.body.count))
        headers.add(name: "Connection", value: "close")
        if answer.status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: answer.status, headers: headers))), promise: nil)
        if withBody {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: answer.body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

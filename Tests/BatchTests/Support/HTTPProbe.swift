import Foundation

/// HTTP requests from the tests, by python3's urllib (a real client outside
/// the process under test): the status and the body, also for 4xx and 5xx.
enum HTTPProbe {
    static func request(_ url: String, method: String = "GET") throws -> (status: Int, body: String) {
        let script = """
            import sys, urllib.request, urllib.error
            request = urllib.request.Request(sys.argv[1], method=sys.argv[2])
            try:
                response = urllib.request.urlopen(request, timeout=20)
                code, body = response.status, response.read()
            except urllib.error.HTTPError as error:
                code, body = error.code, error.read()
            sys.stdout.write(str(code) + "\\n")
            sys.stdout.flush()
            sys.stdout.buffer.write(body)
            """
        let process = try TestProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, url, method],
            environment: ProcessInfo.processInfo.environment)
        process.closeInput()
        guard process.wait(timeout: 60) == 0 else {
            throw TestSupportError(description: "request to \(url) failed: \(process.stderrText)")
        }
        let text = process.stdoutText
        let newline = text.firstIndex(of: "\n") ?? text.endIndex
        return (Int(text[..<newline]) ?? 0, newline < text.endIndex ? String(text[text.index(after: newline)...]) : "")
    }

    /// The `HOST:PORT` a daemon started with `--metrics 0` serves on, from its log.
    static func metricsAddress(of daemon: TestProcess) throws -> String? {
        guard TestProcess.eventually(timeout: 30, { daemon.stderrText.contains("metrics on http://") }) else { return nil }
        return daemon.stderrText.components(separatedBy: "metrics on http://").last?.components(separatedBy: "/metrics").first
    }
}

import Foundation
import Synchronization

/// A real child process (one of the real binaries, usually) with its output
/// captured as it arrives, each stdout line time-stamped, so tests can check
/// what arrived together and what before what.
final class TestProcess: Sendable {
    struct Line: Sendable {
        var time: Double
        var text: String
    }

    private let process: Process
    private let stdinPipe = Pipe()
    private let state = Mutex<(stdout: Data, stderr: Data, lines: [Line], partial: Data)>((Data(), Data(), [], Data()))
    private let readers = DispatchGroup()
    let started: Double

    init(_ executable: URL, _ arguments: [String], environment: [String: String], directory: String? = nil,
         stdinFile: String? = nil) throws
    {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        if let stdinFile {
            process.standardInput = FileHandle(forReadingAtPath: stdinFile)
        } else {
            process.standardInput = stdinPipe
        }
        self.process = process
        started = Self.now()
        try process.run()
        readers.enter()
        readers.enter()
        Thread.detachNewThread { [self] in
            // A thread of its own per pipe: blocking reads, so every line is stamped when it arrives.
            let handle = out.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                let time = Self.now() - started
                state.withLock { state in
                    state.stdout.append(chunk)
                    state.partial.append(chunk)
                    while let newline = state.partial.firstIndex(of: 10) {
                        let line = state.partial[state.partial.startIndex..<newline]
                        state.lines.append(Line(time: time, text: String(decoding: line, as: UTF8.self)))
                        state.partial.removeSubrange(state.partial.startIndex...newline)
                    }
                }
            }
            readers.leave()
        }
        Thread.detachNewThread { [self] in
            let handle = err.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                state.withLock { $0.stderr.append(chunk) }
            }
            readers.leave()
        }
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: Data { state.withLock { $0.stdout } }
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stderrText: String { String(decoding: state.withLock { $0.stderr }, as: UTF8.self) }
    var lines: [Line] { state.withLock { $0.lines } }

    func write(_ text: String) { stdinPipe.fileHandleForWriting.write(Data(text.utf8)) }
    func write(_ data: Data) { stdinPipe.fileHandleForWriting.write(data) }
    func closeInput() { try? stdinPipe.fileHandleForWriting.close() }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the exit (and for all output); returns the exit status, or
    /// `nil` if it is still running after `timeout` seconds (it is then killed).
    @discardableResult
    func wait(timeout: Double = 60) -> Int32? {
        let deadline = Self.now() + timeout
        while process.isRunning && Self.now() < deadline { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            // Not waiting for the pipes: a process it started may hold them open.
            _ = readers.wait(timeout: .now() + 2)
            return nil
        }
        process.waitUntilExit()
        _ = readers.wait(timeout: .now() + 10)
        return process.terminationStatus
    }

    /// Waits until `condition` holds, polling; false on timeout.
    static func eventually(timeout: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = now() + timeout
        while now() < deadline {
            if try condition() { return true }
            usleep(10_000)
        }
        return try condition()
    }
}

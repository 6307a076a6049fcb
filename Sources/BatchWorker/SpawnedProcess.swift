import CSpawn
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// pipe2 creates both ends close-on-exec at once, so a process started
// concurrently by another worker cannot inherit them; with pidfd_open the
// process's exit becomes a readable descriptor, polled with its pipes.

/// One run of a command with `batch_spawn` (posix_spawn's work, and the
/// command dies with its daemon: see CSpawn), its output read with `poll` on
/// the calling thread: the per-item path, where starting a process is most of
/// the cost (about twice as fast here as going through swift-subprocess,
/// which stays in use for stream mode's long-lived processes).
///
/// The process runs in its own process group with default signal handling
/// and stdin from /dev/null. Past the deadline, or once the stop signal is
/// triggered, the group gets SIGTERM, and SIGKILL `killGrace` later. Only the
/// thread that runs it reaps the process, and it signals the group only
/// before that, so a reused pid is never signalled.
struct SpawnedProcess {
    struct Result {
        enum Termination {
            case exited(Int32)
            case signaled(Int32)
        }

        var termination: Termination
        var output: Data
        var outputExceeded: Bool
        var errorTail: Data
        /// Killed because the stop signal was triggered.
        var stopped: Bool
        /// Killed because it ran past its deadline.
        var timedOut: Bool
    }

    struct SpawnError: Error, CustomStringConvertible {
        var errno: Int32
        var description: String { String(cString: strerror(errno)) }
    }

    /// The program's path, as bytes.
    var path: [UInt8]
    /// Argument vector, each NUL-terminated, program name first.
    var argv: [[UInt8]]
    /// `NAME=value` entries, each NUL-terminated.
    var environment: [[UInt8]]
    /// As bytes: a folder whose name is not UTF-8 is entered as it is.
    var workingDirectory: [UInt8]
    var maxOutput: Int
    var errorTail: Int
    var killGrace: Duration

    /// Runs the process to its end on the calling thread, which it blocks.
    /// Throws `CancellationError` if `stop` was triggered before it started.
    func runBlocking(deadline: ContinuousClock.Instant?, stop: StopSignal?) throws -> Result {
        if stop?.isTriggered == true { throw CancellationError() }
        let started = try spawn()
        return collect(pid: started.pid, stdout: started.stdout, stderr: started.stderr, deadline: deadline, stop: stop)
    }

    /// Starts the process; returns its pid and the read ends of its output pipes.
    private func spawn() throws -> (pid: pid_t, stdout: Int32, stderr: Int32) {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard batch_pipe2(&outPipe, O_CLOEXEC) == 0 else { throw SpawnError(errno: errno) }
        guard batch_pipe2(&errPipe, O_CLOEXEC) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw SpawnError(errno: errno)
        }
        var pid: pid_t = 0
        // batch_spawn: posix_spawn's work (own process group, default signals,
        // empty mask, stdin from /dev/null, no other descriptor) plus
        // PR_SET_PDEATHSIG, so the command dies with a SIGKILLed daemon. The
        // signal follows the thread that spawned, not the process: this
        // thread waits for the command to its end, so it outlives it.
        let status = withCStrings(argv) { argvPointers in
            withCStrings(environment) { environmentPointers in
                withCStrings([path + [0], workingDirectory + [0]]) { paths in
                    batch_spawn(&pid, paths[0]!, argvPointers, environmentPointers, paths[1]!, outPipe[1], errPipe[1], SIGKILL)
                }
            }
        }
        close(outPipe[1])
        close(errPipe[1])
        guard status == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw SpawnError(errno: status)
        }
        return (pid, outPipe[0], errPipe[0])
    }

    /// Reads both pipes until the process has exited and they are drained,
    /// then reaps it; stops it past `deadline` or once `stop` is triggered.
    private func collect(
        pid: pid_t, stdout: Int32, stderr: Int32, deadline: ContinuousClock.Instant?, stop: StopSignal?
    ) -> Result {
        let clock = ContinuousClock()
        let pidfd = batch_pidfd_open(pid, 0)
        defer { if pidfd >= 0 { close(pidfd) } }
        var output = GrowingBuffer()
        var errors = Data()
        var exceeded = false
        var stopped = false
        var timedOut = false
        var killAt: ContinuousClock.Instant?
        var killed = false
        var open: [Int32] = [stdout, stderr]
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 1)
        defer { buffer.deallocate() }
        var exitStatus: Int32?
        let exitFirst = clock.now + .milliseconds(5)

        func reap(blocking: Bool) {
            var status: Int32 = 0
            var reaped: pid_t
            repeat { reaped = waitpid(pid, &status, blocking ? 0 : WNOHANG) } while reaped < 0 && errno == EINTR
            if reaped == pid { exitStatus = status }
        }

        while exitStatus == nil || !open.isEmpty {
            let now = clock.now
            if exitStatus == nil {
                if killAt == nil, stop?.isTriggered == true || deadline.map({ now >= $0 }) == true {
                    if stop?.isTriggered == true { stopped = true } else { timedOut = true }
                    _ = kill(-pid, SIGTERM)
                    killAt = now + killGrace
                } else if let killAt, now >= killAt, !killed {
                    _ = kill(-pid, SIGKILL)
                    killed = true
                }
            }
            // For its first few milliseconds only the exit is watched: a short
            // run then costs this thread one wake-up instead of one for its
            // output, one for end-of-file and one for its exit. A run that
            // fills a pipe meanwhile just waits that long for it to be read.
            let watchPipes = pidfd < 0 || exitStatus != nil || now >= exitFirst
            var fds = open.map { pollfd(fd: watchPipes ? $0 : -1, events: Int16(POLLIN), revents: 0) }
            if exitStatus == nil && pidfd >= 0 { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            if killAt == nil, let stop, stop.fd >= 0 { fds.append(pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0)) }
            // After the process exited, a grandchild may still hold a pipe open:
            // drain what is there and stop instead of waiting for its EOF.
            var wait: Duration? = exitStatus != nil ? .zero : nil
            // Without a pidfd (or an eventfd) the exit (or the stop) is looked for every 50 ms.
            if exitStatus == nil && (pidfd < 0 || (killAt == nil && stop.map { $0.fd < 0 } == true)) {
                wait = .milliseconds(50)
            }
            for instant in [killAt == nil ? deadline : nil, killed ? nil : killAt, watchPipes ? nil : exitFirst].compactMap({ $0 }) {
                wait = min(wait ?? .seconds(3600), max(.zero, instant - now))
            }
            let timeout = wait.map { duration -> Int32 in
                let (seconds, attoseconds) = duration.components
                return Int32(min(3_600_000, seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000))
            } ?? -1
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 {
                if exitStatus != nil { break }
                if pidfd < 0 { reap(blocking: false) }
                continue
            }
            for poller in fds where poller.revents != 0 {
                if poller.fd == pidfd {
                    reap(blocking: false)
                    continue
                }
                guard poller.fd == stdout || poller.fd == stderr else { continue }  // the stop signal
                let count = read(poller.fd, buffer.baseAddress!, buffer.count)
                if count <= 0 {
                    if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                    close(poller.fd)
                    open.removeAll { $0 == poller.fd }
                    continue
                }
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                if poller.fd == stdout {
                    if exceeded { continue }
                    let room = maxOutput - output.count
                    if count <= room {
                        output.append(bytes)
                    } else {
                        output.append(UnsafeRawBufferPointer(rebasing: bytes[0..<room]))
                        exceeded = true
                        // Stop it rather than let it block on a full pipe.
                        if exitStatus == nil { _ = kill(-pid, SIGKILL) }
                    }
                } else {
                    errors.append(contentsOf: bytes)
                    if errors.count > 2 * errorTail { errors = Data(errors.suffix(errorTail)) }
                }
            }
        }
        for fd in open { close(fd) }
        if exitStatus == nil { reap(blocking: true) }
        let status = exitStatus ?? 0
        let termination: Result.Termination =
            (status & 0x7F) == 0 ? .exited((status >> 8) & 0xFF) : .signaled(status & 0x7F)
        return Result(
            termination: termination, output: output.data(), outputExceeded: exceeded,
            errorTail: errors.count > errorTail ? Data(errors.suffix(errorTail)) : errors,
            stopped: stopped, timedOut: timedOut)
    }
}

/// Calls `body` with a NULL-terminated array of pointers to the given
/// NUL-terminated byte strings.
private func withCStrings<T>(_ strings: [[UInt8]], _ body: ([UnsafeMutablePointer<CChar>?]) -> T) -> T {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { bytes in
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { pointer.initialize(from: $0.baseAddress!, count: bytes.count) }
        }
        return pointer
    }
    pointers.append(nil)
    defer { for pointer in pointers { pointer?.deallocate() } }
    return body(pointers)
}

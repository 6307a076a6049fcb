import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// glibc's posix_spawn_file_actions_addchdir_np (2.29+) is declared only under
// _GNU_SOURCE, so Swift does not import it; it is a plain C function.
@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func spawnFileActionsAddChdir(
    _ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>
) -> Int32

// pipe2 likewise: it creates both ends close-on-exec at once, so a process
// started concurrently by another worker cannot inherit them.
@_silgen_name("pipe2")
private func pipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32

/// One run of a command with `posix_spawn`, its output read on a thread
/// outside Swift's cooperative pool (`BlockingThreads`): the per-item path, where starting a process is most of the cost
/// (about twice as fast here as going through swift-subprocess, which stays in
/// use for stream mode's long-lived processes).
///
/// The process runs in its own process group with default signal handling
/// and stdin from /dev/null. Cancelling the awaiting task sends SIGTERM to the
/// group and SIGKILL `killGrace` later; the call then throws
/// `CancellationError` once the process is reaped.
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
    }

    struct SpawnError: Error, CustomStringConvertible {
        var errno: Int32
        var description: String { String(cString: strerror(errno)) }
    }

    var path: String
    /// Argument vector, each NUL-terminated, program name first.
    var argv: [[UInt8]]
    /// `NAME=value` entries, each NUL-terminated.
    var environment: [[UInt8]]
    var workingDirectory: String
    var maxOutput: Int
    var errorTail: Int
    var killGrace: Duration

    func run() async throws -> Result {
        let pid = try spawn()
        let state = ProcessState(pid: pid.pid)
        let result = await withTaskCancellationHandler {
            // Collecting blocks, so it runs on a thread of its own (see BlockingThreads).
            await BlockingThreads.shared.value { [self] in
                collect(pid: pid.pid, stdout: pid.stdout, stderr: pid.stderr, state: state)
            }
        } onCancel: {
            state.terminate(grace: killGrace)
        }
        if state.wasTerminated { throw CancellationError() }
        return result
    }

    /// Starts the process; returns its pid and the read ends of its output pipes.
    private func spawn() throws -> (pid: pid_t, stdout: Int32, stderr: Int32) {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard pipe2(&outPipe, O_CLOEXEC) == 0 else { throw SpawnError(errno: errno) }
        guard pipe2(&errPipe, O_CLOEXEC) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw SpawnError(errno: errno)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        _ = workingDirectory.withCString { spawnFileActionsAddChdir(&actions, $0) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var pid: pid_t = 0
        let status = withCStrings(argv) { argvPointers in
            withCStrings(environment) { environmentPointers in
                posix_spawn(&pid, path, &actions, &attributes, argvPointers, environmentPointers)
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
    /// then reaps it. Runs on its own thread: it blocks.
    private func collect(pid: pid_t, stdout: Int32, stderr: Int32, state: ProcessState) -> Result {
        var output = Data()
        var errors = Data()
        var exceeded = false
        var open: [Int32] = [stdout, stderr]
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 1)
        defer { buffer.deallocate() }
        var exitStatus: Int32?
        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            // After the process exited, a grandchild may still hold a pipe open:
            // drain what is there and stop instead of waiting for its EOF.
            let ready = poll(&fds, nfds_t(fds.count), exitStatus == nil ? 50 : 0)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 {
                if exitStatus != nil { break }
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    exitStatus = status
                    state.markReaped()
                }
                continue
            }
            for poller in fds where poller.revents != 0 {
                let count = read(poller.fd, buffer.baseAddress!, buffer.count)
                if count <= 0 {
                    if count < 0 && errno == EINTR { continue }
                    close(poller.fd)
                    open.removeAll { $0 == poller.fd }
                    continue
                }
                if poller.fd == stdout {
                    if exceeded { continue }
                    let room = maxOutput - output.count
                    if count <= room {
                        output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                    } else {
                        output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<room]))
                        exceeded = true
                        // Stop it rather than let it block on a full pipe.
                        state.kill()
                    }
                } else {
                    errors.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                    if errors.count > 2 * errorTail { errors = Data(errors.suffix(errorTail)) }
                }
            }
        }
        for fd in open { close(fd) }
        if exitStatus == nil {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            exitStatus = status
            state.markReaped()
        }
        let status = exitStatus ?? 0
        let termination: Result.Termination =
            (status & 0x7F) == 0 ? .exited((status >> 8) & 0xFF) : .signaled(status & 0x7F)
        return Result(
            termination: termination, output: output, outputExceeded: exceeded,
            errorTail: errors.count > errorTail ? Data(errors.suffix(errorTail)) : errors)
    }
}

/// Who may still signal the process group: nobody once the process is
/// reaped, since its pid (and so its group id) may then be reused.
private final class ProcessState: Sendable {
    private let state = Mutex<(reaped: Bool, terminated: Bool)>((false, false))
    let pid: pid_t

    init(pid: pid_t) { self.pid = pid }

    var wasTerminated: Bool { state.withLock { $0.terminated } }

    func markReaped() { state.withLock { $0.reaped = true } }

    func kill() {
        state.withLock { if !$0.reaped { _ = Glibc.kill(-pid, SIGKILL) } }
    }

    /// SIGTERM to the group now, SIGKILL after `grace` if it is still there.
    func terminate(grace: Duration) {
        state.withLock { state in
            state.terminated = true
            if !state.reaped { _ = Glibc.kill(-pid, SIGTERM) }
        }
        let nanoseconds = grace.components.seconds * 1_000_000_000 + grace.components.attoseconds / 1_000_000_000
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in
            kill()
        }
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

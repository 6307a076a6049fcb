import BatchStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts `batchd` in the background when no live daemon serves the
/// database, so that `seq 10 | batch run -- echo` just works.
///
/// The daemon is the `batchd` next to this `batch` binary, started in a
/// session of its own (it outlives the terminal), with `--idle-exit 5m` so it
/// does not linger after the work is done. Its log goes to `DB-batchd.log`.
/// It finds the store in its environment (`BATCH_DB`), not in its argv,
/// where `ps` would show a network store's address to every user.
struct DaemonLauncher {
    let store: any BatchStore
    static let idleExit = "5m"
    /// glibc's POSIX_SPAWN_SETSID, which its headers define only under
    /// _GNU_SOURCE, so Swift does not import it.
    static let spawnSetSID: Int16 = 0x80

    /// Why no daemon may be started here for jobs of `owner`, if so: a daemon
    /// runs jobs as the uid it runs as, so it is started only by that uid, and
    /// only on a database file that uid owns (root following another user's
    /// database must not end up running that user's next jobs as root).
    func refusal(forOwner owner: UInt32) -> String? {
        let me = getuid()
        if store.legacyOwner != me {
            return "\(store.location) belongs to uid \(store.legacyOwner), not to this user (uid \(me)): no daemon is started on another user's database; its owner runs one (BATCH_DB=\(store.location) batchd)"
        }
        if owner != me {
            return "the job belongs to uid \(owner), and only a daemon of that user runs it: no daemon is started for it as uid \(me)"
        }
        return nil
    }

    /// Starts a daemon unless one of `owner`'s serves the database. Throws
    /// when one may not or could not be started.
    func ensureRunning(forOwner owner: UInt32? = nil) throws {
        let owner = owner ?? getuid()
        if try hasLiveDaemon(forOwner: owner) { return }
        // One starter at a time (a `submit` and a `follow` started together
        // each started a daemon): the second waits here, then finds the
        // first's daemon registered. Without a lock file (a folder it may not
        // write), as before.
        let lock = Self.lockStarts(log: store.location.daemonLogPath)
        defer { if lock >= 0 { close(lock) } }
        if lock >= 0, try hasLiveDaemon(forOwner: owner) { return }
        if let refusal = refusal(forOwner: owner) { throw CLIError(.unavailable, refusal) }
        let executable = Self.daemonExecutable()
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw CLIError(.unavailable, "no daemon serves \(store.location) and \(executable) was not found to start one")
        }
        try spawn(
            executable, arguments: ["--idle-exit", Self.idleExit], storeLocation: store.location.environmentValue,
            log: store.location.daemonLogPath)
        // Wait briefly for it to register, so that the next command does not start another.
        for _ in 0..<100 {
            if try hasLiveDaemon(forOwner: owner) { return }
            usleep(20_000)
        }
    }

    /// An exclusive lock on `LOG.start-lock`, held until the descriptor is
    /// closed; -1 when it cannot be taken.
    static func lockStarts(log: String) -> Int32 {
        try? FileManager.default.createDirectory(
            atPath: (log as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let fd = open(log + ".start-lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0o600)
        guard fd >= 0 else { return -1 }
        guard flock(fd, LOCK_EX) == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    /// Whether a live daemon runs `owner`'s jobs (a daemon of a release that
    /// did not record its uid runs everyone's).
    func hasLiveDaemon(forOwner owner: UInt32) throws -> Bool {
        let now = Date()
        return try store.daemonsList().contains {
            ($0.uid == nil || $0.uid == owner) && $0.isAlive(now: now, heartbeatWithin: 10)
        }
    }

    static func daemonExecutable() -> String {
        let selfPath = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: selfPath).deletingLastPathComponent().appendingPathComponent("batchd").path
    }

    /// The file descriptors open in this process.
    static func openDescriptors() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { Int32($0) }.filter { fcntl($0, F_GETFD) != -1 }
    }

    private func spawn(_ executable: String, arguments: [String], storeLocation: String, log: String) throws {
        // Opened here, never through a symbolic link: a link planted at the
        // log's path must not make this user append to a file of its choice.
        // A server's daemon logs under ~/.local/state/batch, which may not exist yet.
        try? FileManager.default.createDirectory(
            atPath: (log as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let logFD = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0o600)
        guard logFD >= 0 else {
            throw CLIError(.unavailable, "cannot open the daemon's log \(log) (\(String(cString: strerror(errno))); a symbolic link there is refused): no daemon was started")
        }
        defer { close(logFD) }
        var info = stat()
        guard fstat(logFD, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw CLIError(.unavailable, "the daemon's log \(log) is not a regular file: no daemon was started")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, logFD, 1)
        posix_spawn_file_actions_adddup2(&actions, logFD, 2)
        // The daemon outlives this process: it must not keep open anything this
        // process inherited (a caller waiting for a pipe to close would wait
        // for the daemon's idle exit).
        for fd in Self.openDescriptors() where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A session of its own: no terminal signals, and it outlives this process.
        posix_spawnattr_setflags(&attributes, Self.spawnSetSID)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // This environment (its entries as they are, bytes and all), with
        // BATCH_DB naming the store and BATCHD_LOG_FILE the log, which the
        // daemon reopens on SIGHUP (neither in argv, where `ps` shows it).
        let entry = strdup("BATCH_DB=" + storeLocation)
        let logEntry = strdup("BATCHD_LOG_FILE=" + log)
        defer { free(entry); free(logEntry) }
        var envp: [UnsafeMutablePointer<CChar>?] = []
        var pointer = environ
        while let current = pointer.pointee {
            if strncmp(current, "BATCH_DB=", 9) != 0 && strncmp(current, "BATCHD_LOG_FILE=", 16) != 0 { envp.append(current) }
            pointer += 1
        }
        envp += [entry, logEntry, nil]
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw CLIError(.unavailable, "could not start \(executable): \(String(cString: strerror(status)))")
        }
    }
}

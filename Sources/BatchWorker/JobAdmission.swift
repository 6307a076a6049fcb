import BatchStore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `batchd --allow PATH...`: the executables this daemon runs. On a store
/// that several people write to, anyone who can insert a job could otherwise
/// make every daemon run anything; with a list, a daemon claims only jobs
/// whose command resolves (through the job's own `PATH` and working
/// directory, then every symbolic link) to one of the listed files.
///
/// It allows an executable, not what it does: allowing `python3` or `sh`
/// allows any program they run (a `--shell` job's executable is `/bin/sh`).
///
/// A job it refuses is excluded from this daemon's claims (`chunkClaim`'s
/// `excluding`) and stays pending for a daemon that allows it; the refusal
/// is recorded on the job once, so `batch status` says why it waits.
public final class JobAdmission: Sendable {
    /// The allowed executables, canonical; `nil`: every job is admitted.
    let allowed: Set<String>?
    private let refused = Mutex<Set<JobID>>([])

    /// `paths` as given to `--allow`; `nil` for no list.
    public init(allowing paths: [String]?) {
        allowed = paths.map { Set($0.map { Self.canonical($0) ?? $0 }) }
    }

    /// Every job is admitted.
    public static let everything = JobAdmission(allowing: nil)

    /// The jobs refused so far, for the claim to skip.
    public var excluded: Set<JobID> { refused.withLock { $0 } }

    /// Whether the job's command may run here; a refusal is remembered.
    public func admits(_ job: Job) -> Bool {
        guard let allowed else { return true }
        if refused.withLock({ $0.contains(job.id) }) { return false }
        if let program = job.spec.argumentBytes.first,
           let located = ExecutableLocator.locate(
               program, workingDirectory: job.spec.workingDirectoryBytes, environment: job.spec.environment),
           let path = Self.canonical(String(decoding: located, as: UTF8.self)), allowed.contains(path)
        {
            return true
        }
        refused.withLock { set in
            if set.count > 100_000 { set.removeAll() }  // bounded: old jobs fall out
            set.insert(job.id)
        }
        return false
    }

    /// Why a refused job waits, for `batch status`.
    public func reason(for job: Job, daemon: String) -> String {
        let program = Printable.text(job.spec.argumentBytes.first ?? [])
        return "\(daemon) does not run '\(program)': it is not in its --allow list"
    }

    /// `path` with every symbolic link resolved, or `nil` when it does not exist.
    public static func canonical(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

import Foundation

/// Which job is owed the next free worker: the one scheduling rule of batch,
/// the same for every backend. A store gathers the candidates inside its
/// claim transaction and claims from the job this names, so the decision and
/// the claim are one atomic step (no two daemons act on stale counts).
///
/// The rule, in order:
/// 1. Only a job with work to claim, below its `-j` limit and allowed by its
///    rate limit now, is eligible.
/// 2. The highest priority among the eligible jobs wins (`--priority`).
/// 3. Within it, fair share between owners first (the uid that submitted on
///    SQLite, the role on a network store), as Slurm shares by account: the
///    owner with the fewest running commands at that priority, so one user's
///    fifty jobs do not crowd out another user's one.
/// 4. Then between that owner's jobs: the fewest running commands per unit
///    of weight (`--weight`, 1 by default), so equal jobs get equal workers
///    and a job of weight 2 twice as many.
/// 5. Ties go to the oldest job.
///
/// Running commands are counted as leased chunks: a worker holds one chunk
/// at a time and runs one item (or one group) of it at a time. A job that
/// starts later is therefore given a worker as soon as one finishes its
/// current chunk, and chunks of `auto` size take about a quarter second.
public enum FairShare {
    /// A runnable job as the rule sees it.
    public struct Candidate: Sendable, Hashable {
        public var job: JobID
        /// Who submitted it (a uid, or a role name).
        public var owner: String
        public var priority: Int
        public var weight: Double
        /// Its commands running now (its leased chunks).
        public var running: Int
        /// Whether it has items that are stored and in no chunk, or a chunk
        /// handed back.
        public var hasWork: Bool
        /// Its `-j` limit now (`nil`: none).
        public var limit: Int?
        /// Its rate limit's next allowed start (`nil`: none).
        public var rateReadyAt: Date?

        public init(
            job: JobID, owner: String, priority: Int = 0, weight: Double = 1, running: Int, hasWork: Bool,
            limit: Int? = nil, rateReadyAt: Date? = nil
        ) {
            self.job = job
            self.owner = owner
            self.priority = priority
            self.weight = weight
            self.running = running
            self.hasWork = hasWork
            self.limit = limit
            self.rateReadyAt = rateReadyAt
        }

        /// Whether a worker may take work of this job at `now`.
        public func isEligible(at now: Date) -> Bool {
            hasWork && running < (limit ?? .max) && (rateReadyAt.map { $0 <= now } ?? true)
        }
    }

    /// The job owed the next worker at `now`, or `nil` when no job is eligible.
    public static func next(among candidates: [Candidate], now: Date) -> JobID? {
        let eligible = candidates.filter { $0.isEligible(at: now) }
        guard let top = eligible.map(\.priority).max() else { return nil }
        let contenders = eligible.filter { $0.priority == top }
        // Each owner's running commands at this priority, eligible jobs or not.
        var load: [String: Int] = [:]
        for candidate in candidates where candidate.priority == top {
            load[candidate.owner, default: 0] += candidate.running
        }
        return contenders.min { a, b in
            let (loadA, loadB) = (load[a.owner] ?? 0, load[b.owner] ?? 0)
            if loadA != loadB { return loadA < loadB }
            let (shareA, shareB) = (Double(a.running) / a.weight, Double(b.running) / b.weight)
            if shareA != shareB { return shareA < shareB }
            return a.job.rawValue < b.job.rawValue
        }?.job
    }

    /// Why an eligible-looking job gets no worker now, for `status` and `list`.
    public enum WaitReason: Sendable, Hashable, CustomStringConvertible {
        case limitReached(Int)
        case rateLimit(Date)
        case higherPriority
        case sharedWithOthers(Int)

        public var description: String {
            switch self {
            case .limitReached(let limit): "its -j limit of \(limit) is reached"
            case .rateLimit: "its rate limit allows the next item a moment from now"
            case .higherPriority: "jobs of a higher priority have the workers"
            case .sharedWithOthers(let jobs): "the workers are shared with \(jobs) other job(s)"
            }
        }
    }

    /// Why `job` has work but no running command, given every candidate and
    /// the workers there are; `nil` when it runs or has nothing to run.
    public static func waitReason(of job: JobID, among candidates: [Candidate], now: Date) -> WaitReason? {
        guard let me = candidates.first(where: { $0.job == job }), me.hasWork, me.running == 0 else { return nil }
        if let limit = me.limit, me.running >= limit { return .limitReached(limit) }
        if let ready = me.rateReadyAt, ready > now { return .rateLimit(ready) }
        if candidates.contains(where: { $0.priority > me.priority && $0.running > 0 }) { return .higherPriority }
        let others = candidates.filter { $0.job != job && $0.running > 0 }.count
        return others > 0 ? .sharedWithOthers(others) : nil
    }
}

import BatchStore
import Foundation
import Synchronization

/// What running a job's command needs that is the same for every item: the
/// argument template, the program's path (looked up once in the job's PATH)
/// and the environment as C strings. Built once per job, not once per item.
final class PreparedCommands: Sendable {
    struct Prepared: Sendable {
        var builder: CommandLineBuilder
        var executable: [UInt8]?
        var environment: [[UInt8]]
    }

    private let cache = Mutex<[JobID: Prepared]>([:])

    func prepared(for job: Job) -> Prepared {
        if let prepared = cache.withLock({ $0[job.id] }) { return prepared }
        let spec = job.spec
        let prepared = Prepared(
            builder: CommandLineBuilder(spec: spec),
            executable: spec.argumentBytes.first.flatMap {
                ExecutableLocator.locate($0, workingDirectory: spec.workingDirectoryBytes, environment: spec.environment)
            },
            // Marker entries come per run (`CommandMarker`); ones inherited from
            // a submitter that itself ran under batch are dropped.
            environment: spec.environment.map { Array($0) + [0] }.filter { !CommandMarker.isMarker($0) })
        cache.withLock { cache in
            if cache.count > 100 { cache.removeAll() }
            cache[job.id] = prepared
        }
        return prepared
    }
}

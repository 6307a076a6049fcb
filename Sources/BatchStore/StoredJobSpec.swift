import Foundation

/// A `JobSpec` as every backend stores it: the either/or policies split into
/// one nullable column each, the command as JSON and the environment as
/// NUL-separated bytes. One place, so that the backends store a job alike.
public struct StoredJobSpec: Sendable {
    /// The command's words as a JSON array of strings (their bytes are stored apart).
    public var commandJSON: String
    /// `NAME=value` entries separated by NUL bytes.
    public var environment: Data
    /// The command's arguments exactly, NUL-separated.
    public var commandBytes: Data
    public var timeoutSeconds: Double?
    public var timeoutPercent: Double?
    public var haltCount: Int64?
    public var haltPercent: Double?
    public var maxRunningCount: Int?
    public var maxRunningPercent: Double?

    public init(_ spec: JobSpec) throws {
        commandJSON = String(decoding: try JSONEncoder().encode(spec.command), as: UTF8.self)
        var environment = Data()
        for (index, entry) in spec.environment.enumerated() {
            if index > 0 { environment.append(0) }
            environment.append(entry)
        }
        self.environment = environment
        commandBytes = Data(spec.argumentBytes.joined(separator: [0]))
        switch spec.timeout {
        case .seconds(let seconds): timeoutSeconds = seconds
        case .percentOfMedian(let percent): timeoutPercent = percent
        case nil: break
        }
        switch spec.halt?.threshold {
        case .count(let count): haltCount = count
        case .percent(let percent): haltPercent = percent
        case nil: break
        }
        switch spec.maxRunning {
        case .count(let count): maxRunningCount = count
        case .percentOfWorkers(let percent): maxRunningPercent = percent
        case nil: break
        }
    }

    /// The timeout its two columns stored.
    public static func timeout(seconds: Double?, percent: Double?) -> ItemTimeout? {
        if let percent { return .percentOfMedian(percent) }
        return seconds.map(ItemTimeout.seconds)
    }

    /// The halt policy its three columns stored.
    public static func halt(when: String?, count: Int64?, percent: Double?) -> HaltPolicy? {
        guard let when = when.flatMap(HaltPolicy.When.init(rawValue:)) else { return nil }
        if let count { return HaltPolicy(when: when, threshold: .count(count)) }
        return percent.map { HaltPolicy(when: when, threshold: .percent($0)) }
    }

    /// The environment its NUL-separated bytes stored.
    public static func environment(_ blob: Data) -> [Data] {
        blob.isEmpty ? [] : blob.split(separator: 0, omittingEmptySubsequences: false).map { Data($0) }
    }
}

import Foundation

/// How fast a job's items may start, across every daemon (`--rate 10/s`,
/// also `/m` and `/h`): an API that allows so many requests a second.
///
/// Kept as the job's next allowed start (the generic cell rate algorithm:
/// one timestamp, no counters): a claim may take work only once that moment
/// has come, and moves it on by the claimed items' share of time. Claims of a
/// rate-limited job take one item (or one group) at a time, so items start
/// spread out, not in bursts of a chunk.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    public var perSecond: Double

    public init(perSecond: Double) { self.perSecond = perSecond }

    /// Parses `N/s`, `N/m`, `N/h` (or a bare `N`, per second); N > 0.
    public init?(parsing text: String) {
        let units: [(String, Double)] = [("/s", 1), ("/m", 60), ("/h", 3600)]
        var number = Substring(text)
        var scale = 1.0
        if let (suffix, seconds) = units.first(where: { text.hasSuffix($0.0) }) {
            number = text.dropLast(suffix.count)
            scale = seconds
        }
        guard let count = Double(number), count.isFinite, count > 0, count / scale >= 1e-6, count / scale <= 1e6 else {
            return nil
        }
        perSecond = count / scale
    }

    /// The time `items` starts take up.
    public func interval(items: Int64) -> TimeInterval { Double(items) / perSecond }

    public var description: String {
        if perSecond >= 1 { return "\(perSecond.compactText)/s" }
        if perSecond * 60 >= 1 { return "\((perSecond * 60).compactText)/m" }
        return "\((perSecond * 3600).compactText)/h"
    }
}

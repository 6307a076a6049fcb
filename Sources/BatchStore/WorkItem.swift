import Foundation

/// One stored item, as a worker receives it.
public struct WorkItem: Sendable, Hashable {
    public var line: Int64
    public var data: Data

    public init(line: Int64, data: Data) {
        self.line = line
        self.data = data
    }
}

import BatchStore
import Foundation

/// Builds a job's command line for one item, like xargs and GNU parallel:
/// each `{}` in an argument is replaced by the item; when no argument has
/// one, the item is appended as the last argument.
public struct CommandLineBuilder: Sendable {
    let arguments: [[UInt8]]
    let hasPlaceholder: Bool
    static let placeholder: [UInt8] = Array("{}".utf8)

    public init(command: [String]) {
        arguments = command.map { Array($0.utf8) }
        hasPlaceholder = arguments.contains { $0.firstRange(of: Self.placeholder) != nil }
    }

    /// The argument vector (program name first) for `item`.
    public func argv(for item: Data) -> [[UInt8]] {
        let itemBytes = Array(item)
        guard hasPlaceholder else { return arguments + [itemBytes] }
        return arguments.map { $0.replacing(Self.placeholder, with: itemBytes) }
    }
}

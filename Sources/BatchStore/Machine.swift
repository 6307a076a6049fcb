import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a process runs, as far as its pid means anything: the kernel it
/// booted (`/proc/sys/kernel/random/boot_id`) and its pid namespace. Two
/// processes with the same `id` see the same pids, so one may look at the
/// other's pid; two containers that share a hostname do not (a hostname
/// alone made them declare each other's daemons dead). `host` is for
/// people to read.
public struct Machine: Sendable, Hashable {
    public var host: String
    /// Boot id and pid namespace; `nil` in records written before it was kept.
    public var id: String?

    public init(host: String, id: String?) {
        self.host = host
        self.id = id
    }

    /// This process's machine.
    public static let current = Machine(host: ProcessIdentity.hostName, id: currentID())

    /// Whether a pid recorded on `other` may be looked at here. Records
    /// without an id (older releases) are compared by hostname, as before.
    public func sharesPids(with other: Machine) -> Bool {
        if let id, let otherID = other.id { return id == otherID }
        return host == other.host
    }

    static func currentID() -> String? {
        guard let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return nil }
        var buffer = [CChar](repeating: 0, count: 128)
        let length = readlink("/proc/self/ns/pid", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        let namespace = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return boot.trimmingCharacters(in: .whitespacesAndNewlines) + "/" + namespace
    }
}

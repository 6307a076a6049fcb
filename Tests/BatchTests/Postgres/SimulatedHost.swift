import Foundation
import Synchronization
import Testing

/// Another host on this machine, made honestly with Linux namespaces (root
/// only): its own network namespace joined to the test cluster's server by
/// a veth pair (10.77.N.2 here, 10.77.N.1 on the server's side, the subnet
/// `scripts/pg-cluster` trusts over TCP), and each process started in it
/// gets its own pid and UTS namespace (its own pids, hostname `name`). It
/// reaches the server only over TCP: a socket file would be reachable from
/// every namespace. Taking its link down cuts it off: a real partition.
final class SimulatedHost: @unchecked Sendable {
    private static let next = Mutex(0)

    /// The host's name: its network namespace and its hostname.
    let name: String
    private let outside: String
    private let subnet: String
    private var processes: [TestProcess] = []

    init() throws {
        let index = Self.next.withLock { value -> Int in
            value += 1
            return value
        }
        // Interface names have at most 15 characters.
        let tag = "\(getpid() % 100_000)n\(index)"
        name = "bh\(tag)"
        outside = "bo\(tag)"
        subnet = "10.77.\(100 + index % 150)"
        let inside = "bi\(tag)"
        try Self.sh("""
            ip netns add \(name)
            ip link add \(outside) type veth peer name \(inside)
            ip link set \(inside) netns \(name)
            ip addr add \(subnet).1/24 dev \(outside)
            ip link set \(outside) up
            ip netns exec \(name) ip addr add \(subnet).2/24 dev \(inside)
            ip netns exec \(name) ip link set \(inside) up
            ip netns exec \(name) ip link set lo up
            """)
    }

    deinit {
        killEverything()
        try? silence(false)
        // Deleting the namespace deletes the pair's inner end, and with it the pair.
        try? Self.sh("ip netns del \(name); ip link del \(outside) 2>/dev/null || true")
    }

    /// A connection string for this host: the test's database over TCP to
    /// the server's address on this host's link (a later keyword wins).
    func conninfo(_ conninfo: String) -> String { conninfo + " host=\(subnet).1" }

    /// Starts `executable` on this host, in pid and UTS namespaces of its
    /// own (it is pid 1 there, and its hostname is the host's name).
    @discardableResult
    func start(_ executable: URL, _ arguments: [String], environment: [String: String], directory: String) throws -> TestProcess {
        let process = try TestProcess(
            URL(fileURLWithPath: "/usr/sbin/ip"),
            ["netns", "exec", name, "unshare", "--pid", "--uts", "--mount-proc", "--fork", "--kill-child",
             "sh", "-c", "hostname \(name) && exec \"$0\" \"$@\"", executable.path] + arguments,
            environment: environment, directory: directory)
        processes.append(process)
        return process
    }

    /// Takes the host's link down or up.
    func link(up: Bool) throws { try Self.sh("ip link set \(outside) \(up ? "up" : "down")") }

    /// Drops, silently, every packet the server sends to this host (a
    /// blackhole route on the server's side) or stops doing so: the host's
    /// link stays up and its calls get no error, only silence, as in a
    /// partition somewhere along the path.
    func silence(_ on: Bool) throws { try Self.sh("ip route \(on ? "add" : "del") blackhole \(subnet).2/32") }

    /// The pids (as seen from here) of every process on the host.
    func pids() -> [Int32] {
        let out = (try? Self.sh("ip netns pids \(name)")) ?? ""
        return out.split(separator: "\n").compactMap { Int32($0) }
    }

    /// SIGKILLs every process of the host at once, as a power cut would.
    func killEverything() {
        for pid in pids() { kill(pid, SIGKILL) }
        for process in processes { _ = process.wait(timeout: 10) }
    }

    @discardableResult
    static func sh(_ script: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-ec", script]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HostSetupError(message: "\(script): \(String(decoding: error, as: UTF8.self))")
        }
        return String(decoding: output, as: UTF8.self)
    }

    struct HostSetupError: Error, CustomStringConvertible {
        var message: String
        var description: String { "simulated host: \(message)" }
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Finds a program the way a shell does: a name with a `/` is a path
/// (relative to the job's working directory), any other name is looked up in
/// the job's `PATH`. Paths are bytes throughout: a folder or program whose
/// name is not UTF-8 is found as it is. Daemons use it to run a job's
/// command; the CLI to refuse, at submit, a command that cannot run.
public enum ExecutableLocator {
    public static func locate(_ name: [UInt8], workingDirectory: [UInt8], environment: [Data]) -> [UInt8]? {
        guard !name.isEmpty else { return nil }
        let slash = UInt8(ascii: "/")
        func absolute(_ path: [UInt8]) -> [UInt8] { path.first == slash ? path : workingDirectory + [slash] + path }
        if name.contains(slash) {
            let path = absolute(name)
            return exists(path) ? path : nil
        }
        let prefix = Array("PATH=".utf8)
        let searchPath = environment.first { $0.starts(with: prefix) }.map { Array($0.dropFirst(prefix.count)) }
            ?? Array("/usr/local/bin:/usr/bin:/bin".utf8)
        for folder in searchPath.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false) {
            let base = folder.isEmpty ? [UInt8(ascii: ".")] : Array(folder)
            let candidate = absolute(base) + [slash] + name
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    private static func withPath<T>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        (path + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }

    public static func exists(_ path: [UInt8]) -> Bool {
        withPath(path) { access($0, F_OK) == 0 }
    }

    public static func isExecutableFile(_ path: [UInt8]) -> Bool {
        withPath(path) { pointer in
            var info = stat()
            return stat(pointer, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(pointer, X_OK) == 0
        }
    }
}

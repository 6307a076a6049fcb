import Foundation

/// Finds a program the way a shell does: a name with a `/` is a path
/// (relative to the job's working directory), any other name is looked up in
/// the job's `PATH`.
enum ExecutableLocator {
    static func locate(_ name: [UInt8], workingDirectory: String, environment: [Data]) -> String? {
        let program = String(decoding: name, as: UTF8.self)
        guard !program.isEmpty else { return nil }
        if program.contains("/") {
            let path = program.hasPrefix("/") ? program : workingDirectory + "/" + program
            return FileManager.default.fileExists(atPath: path) ? path : nil
        }
        let pathEntry = environment.lazy
            .map { String(decoding: $0, as: UTF8.self) }
            .first { $0.hasPrefix("PATH=") }
        let searchPath = pathEntry.map { String($0.dropFirst(5)) } ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let base = folder.isEmpty ? "." : String(folder)
            let absoluteBase = base.hasPrefix("/") ? base : workingDirectory + "/" + base
            let candidate = absoluteBase + "/" + program
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

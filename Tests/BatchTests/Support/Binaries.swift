import Foundation

/// The built `batch` and `batchd` executables, next to the test bundle.
enum Binaries {
    static let folder: URL = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // Swift Testing may run from inside the .xctest bundle folder.
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("batch").path), url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url
    }()

    static var batch: URL { folder.appendingPathComponent("batch") }
    static var batchd: URL { folder.appendingPathComponent("batchd") }
}

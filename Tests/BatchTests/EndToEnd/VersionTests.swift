import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// A bug report can say which build it was.
    @Suite struct Version {
        @Test(arguments: ["batch", "batchd"])
        func versionIsOneLine(_ program: String) throws {
            let binary = program == "batch" ? Binaries.batch : Binaries.batchd
            let process = try TestProcess(binary, ["--version"], environment: ProcessInfo.processInfo.environment)
            process.closeInput()
            #expect(process.wait(timeout: 30) == 0)
            #expect(process.stdoutText == "\(program) \(BatchVersion.number)\n")
        }
    }
}

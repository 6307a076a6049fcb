import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// A bug report can say which build it was.
    @Suite struct Version {
        /// One line: the release, and the commit it was built from when known.
        @Test(arguments: ["batch", "batchd"])
        func versionIsOneLine(_ program: String) throws {
            let binary = program == "batch" ? Binaries.batch : Binaries.batchd
            let process = try TestProcess(binary, ["--version"], environment: ProcessInfo.processInfo.environment)
            process.closeInput()
            #expect(process.wait(timeout: 30) == 0)
            #expect(process.stdoutText == BatchVersion.line(program) + "\n")
            #expect(process.stdoutText.hasPrefix("\(program) \(BatchVersion.number)"))
            if let commit = BatchVersion.commit {
                // Built from a checkout: the commit, as git names it.
                #expect(commit.count == 12 && commit.allSatisfy(\.isHexDigit))
                #expect(process.stdoutText.contains("(commit \(commit))"))
            }
        }
    }
}

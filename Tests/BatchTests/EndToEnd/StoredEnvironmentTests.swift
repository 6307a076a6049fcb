import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// Only allowlisted environment variables are stored with a job and
    /// given to its commands: a secret in the submitter's shell does not
    /// travel unless asked for.
    @Suite struct StoredEnvironment {
        func storedNames(_ env: BatchEnvironment, _ id: JobID) throws -> [String] {
            let job = try #require(try env.store().jobFetch(id))
            return job.spec.environment.map { String(decoding: $0.prefix { $0 != UInt8(ascii: "=") }, as: UTF8.self) }
        }

        @Test func aSecretIsNotStoredUnlessAskedFor() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            var environment = env.environment
            environment["SECRET_TOKEN"] = "s3cret-value-0451"
            environment["AWS_REGION"] = "eu-west-3"
            environment["LC_TIME"] = "C"
            let script = "echo ${SECRET_TOKEN:-none} ${AWS_REGION:-none} ${LC_TIME:-none} ${PATH:+path}"

            let plain = try env.start(["run", "--", "sh", "-c", script, "_"], input: "1\n", environment: environment)
            #expect(plain.wait(timeout: 60) == 0, "\(plain.stderrText)")
            #expect(plain.stdoutText == "none none C path\n", "only the default names reach the command")

            let globbed = try env.start(["run", "--env", "AWS_*", "--", "sh", "-c", script, "_"], input: "1\n", environment: environment)
            #expect(globbed.wait(timeout: 60) == 0, "\(globbed.stderrText)")
            #expect(globbed.stdoutText == "none eu-west-3 C path\n")

            let all = try env.start(["run", "--env-all", "--", "sh", "-c", script, "_"], input: "1\n", environment: environment)
            #expect(all.wait(timeout: 60) == 0, "\(all.stderrText)")
            #expect(all.stdoutText == "s3cret-value-0451 eu-west-3 C path\n")

            let jobs = try env.store().jobsList(limit: 10, states: nil).sorted { $0.id.rawValue < $1.id.rawValue }
            try #require(jobs.count == 3)
            #expect(try !storedNames(env, jobs[0].id).contains("SECRET_TOKEN"))
            #expect(try !storedNames(env, jobs[1].id).contains("SECRET_TOKEN"))
            #expect(try storedNames(env, jobs[1].id).contains("AWS_REGION"))
            #expect(try storedNames(env, jobs[2].id).contains("SECRET_TOKEN"))
        }

        @Test func aBadEnvNameIsRefused() throws {
            let env = BatchEnvironment()
            let run = try env.batch(["submit", "--env", "A=B", "--", "echo"], input: "1\n")
            #expect(run.status == 64)
            #expect(run.err.contains("--env takes a variable name or a glob"), "\(run.err)")
        }
    }
}

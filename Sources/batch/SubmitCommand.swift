import ArgumentParser
import BatchStore
import Foundation

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Store items from standard input as a new job and print its id.",
        discussion: """
            Prints the job id at once, then stores items as they arrive (one per line, or NUL-separated \
            with -0): daemons start on the first items before the input ends. Memory stays flat however \
            long the input is. With --resume, continues the submission of a job whose submitter died: \
            give it the same input again; items already stored are skipped. With --open, the job stays \
            open when the input ends, until 'batch seal JOB'.

            Examples:
              find . -name '*.png' | batch submit -- optipng {}
              batch submit --resume 7 < urls.txt

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var submit: SubmitOptions

    @Option(help: "Continue the submission of this open job from the same input.")
    var resume: String?

    @Flag(help: "Leave the job open when the input ends; 'batch seal JOB' completes it (for programs that feed a pipe and may die).")
    var open = false

    func validate() throws {
        if let resume { _ = try parseJobID(resume) } else { try submit.validateCommand("submit", Self.self) }
    }

    func run() async throws {
        try await reportingErrors {
            // The input first: a job is never created for an input that cannot be read.
            let (fd, name) = try submit.openInput()
            if submit.parallel.dryRun {
                return try DryRun(options: submit).run(fd: fd, inputName: name)
            }
            let db = try store.openStore()
            if fd >= 0, isatty(fd) == 1 {
                // Otherwise a terminal just waits, showing "0/0 so far".
                StandardError.line("batch: reading items from the terminal, one per line, until Ctrl-D")
            }
            let (jobID, alreadyStored, separator, stream) = try prepareJob(db)
            if resume == nil { writeAll(1, Array("\(jobID)\n".utf8)) }
            try store.ensureDaemon(db)
            var items = submit.inputItems(fd: fd, separator: separator, passedAsArgument: !stream)
            _ = try Submitter(store: db, jobID: jobID, alreadyStored: alreadyStored, inputName: name, seals: !open).submit(from: &items)
        }
    }

    /// A new job, or the open job to resume (with how many items it has).
    func prepareJob(_ db: any BatchStore) throws -> (JobID, Int64, UInt8, stream: Bool) {
        if let resume {
            let id = try parseJobID(resume)
            guard let job = try db.jobFetch(id) else { throw CLIError(.noSuchJob, "no job \(id)") }
            guard job.state == .open else {
                throw CLIError(.jobState, "job \(id) is \(job.state.rawValue): its input is already complete, nothing to resume")
            }
            try db.jobSubmitterRecordIfOpen(id, ProcessIdentity.current)
            return (id, job.itemCount, job.spec.nulSeparated ? 0 : 10, job.spec.stream)
        }
        let spec = submit.jobSpec()
        try submit.checkCommandRuns(spec, on: db.location)
        let job = try db.jobCreate(spec, now: Date())
        return (job.id, 0, submit.null ? 0 : 10, submit.stream)
    }
}

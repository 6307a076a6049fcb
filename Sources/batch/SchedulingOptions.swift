import ArgumentParser
import BatchStore

/// How a job shares the workers with other jobs (`submit`, `run`).
struct SchedulingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Higher runs first: jobs of a lower priority get workers only when no job of a higher one can use them (default 0; 'batch priority JOB N' changes it later).", valueName: "n"))
    var priority: Int = 0

    @Option(help: ArgumentHelp("This job's share of workers against jobs of its priority: 2 gets twice an equal share (default 1).", valueName: "w"))
    var weight: Double = 1

    @Option(help: ArgumentHelp("Start items no faster than this across every daemon: N/s, N/m or N/h (an API that allows 10 requests a second: 10/s).", valueName: "rate"))
    var rate: String?

    func validate() throws {
        guard weight > 0, weight.isFinite, weight <= 1_000_000 else {
            throw ValidationError("--weight takes a number above 0 (at most 1000000), not \(weight)")
        }
        guard abs(priority) <= 1_000_000 else { throw ValidationError("--priority takes a number from -1000000 to 1000000") }
        if let rate, RateLimit(parsing: rate) == nil {
            throw ValidationError("--rate takes a rate like 10/s, 30/m or 100/h, not '\(rate)'")
        }
    }
}

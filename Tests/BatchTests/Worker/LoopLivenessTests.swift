import BatchWorker
import Foundation
import Testing

/// What systemd's watchdog and `/healthz` read: a loop is wedged only when
/// one pass lasts past the limit, not when it waits between passes.
@Suite struct LoopLivenessTests {
    @Test func aPassPastTheLimitIsAProblemUntilItEnds() throws {
        let liveness = LoopLiveness()
        #expect(liveness.problem(limit: 0.05) == nil)
        liveness.begin("commit")
        #expect(liveness.problem(limit: 10) == nil, "a pass under way, within the limit")
        usleep(100_000)
        let problem = try #require(liveness.problem(limit: 0.05))
        #expect(problem.contains("commit loop"))
        liveness.end("commit")
        #expect(liveness.problem(limit: 0.05) == nil, "between passes, however long")
    }

    @Test func eachFailedAttemptIsAPassOfItsOwn() {
        // A store fault: every attempt ends (with an error) and the next begins.
        let liveness = LoopLiveness()
        for _ in 0..<5 {
            _ = try? liveness.pass("commit") { usleep(30_000); throw CancellationError() }
        }
        #expect(liveness.problem(limit: 0.05) == nil, "waiting out a fault is not being wedged")
    }
}

import BatchStore
import Foundation
import Testing

/// The scheduling rule every backend's claim follows (issue 11).
@Suite struct FairShareTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func job(_ id: Int64, owner: String = "1000", priority: Int = 0, weight: Double = 1, running: Int = 0,
             hasWork: Bool = true, limit: Int? = nil, rateReadyAt: Date? = nil) -> FairShare.Candidate {
        .init(job: JobID(id), owner: owner, priority: priority, weight: weight, running: running, hasWork: hasWork,
              limit: limit, rateReadyAt: rateReadyAt)
    }

    @Test func theJobWithFewestRunningGetsTheWorkerAndTiesGoToTheOldest() {
        #expect(FairShare.next(among: [job(1, running: 2), job(2, running: 0)], now: now) == JobID(2))
        #expect(FairShare.next(among: [job(1, running: 1), job(2, running: 1)], now: now) == JobID(1))
        #expect(FairShare.next(among: [], now: now) == nil)
    }

    @Test func weightsScaleTheShare() {
        // Job 2 has twice the weight: with 2 running against 1 it is still owed.
        #expect(FairShare.next(among: [job(1, running: 1), job(2, weight: 2, running: 1)], now: now) == JobID(2))
        #expect(FairShare.next(among: [job(1, running: 1), job(2, weight: 2, running: 2)], now: now) == JobID(1))
    }

    @Test func priorityComesFirst() {
        #expect(FairShare.next(among: [job(1, running: 0), job(2, priority: 1, running: 5)], now: now) == JobID(2))
        // A higher-priority job that cannot take work does not block the others.
        #expect(FairShare.next(among: [job(1), job(2, priority: 1, running: 1, limit: 1)], now: now) == JobID(1))
        #expect(FairShare.next(among: [job(1), job(2, priority: 1, hasWork: false)], now: now) == JobID(1))
    }

    @Test func ownersShareBeforeTheirJobs() {
        // Owner a has 3 jobs with one running each; owner b's one job is owed first.
        let candidates = [job(1, owner: "a", running: 1), job(2, owner: "a", running: 1), job(3, owner: "a", running: 0),
                          job(4, owner: "b", running: 1)]
        #expect(FairShare.next(among: candidates, now: now) == JobID(4))
        #expect(FairShare.next(among: candidates.dropLast(), now: now) == JobID(3))
    }

    @Test func limitsAndRatesMakeAJobIneligible() {
        #expect(FairShare.next(among: [job(1, running: 2, limit: 2)], now: now) == nil)
        #expect(FairShare.next(among: [job(1, rateReadyAt: now.addingTimeInterval(1))], now: now) == nil)
        #expect(FairShare.next(among: [job(1, rateReadyAt: now)], now: now) == JobID(1))
        #expect(FairShare.waitReason(of: JobID(1), among: [job(1, rateReadyAt: now.addingTimeInterval(1))], now: now)
            == .rateLimit(now.addingTimeInterval(1)))
        #expect(FairShare.waitReason(of: JobID(1), among: [job(1), job(2, priority: 1, running: 1)], now: now) == .higherPriority)
        #expect(FairShare.waitReason(of: JobID(1), among: [job(1, running: 1)], now: now) == nil)
    }

    @Test func rateLimitsParse() {
        #expect(RateLimit(parsing: "10/s")?.perSecond == 10)
        #expect(RateLimit(parsing: "30/m")?.perSecond == 0.5)
        #expect(RateLimit(parsing: "3600/h")?.perSecond == 1)
        #expect(RateLimit(parsing: "2")?.perSecond == 2)
        #expect(RateLimit(parsing: "30/m")?.description == "30/m")
        for bad in ["0/s", "-1/s", "x/s", "/s", "10/d", ""] { #expect(RateLimit(parsing: bad) == nil, "\(bad)") }
    }
}

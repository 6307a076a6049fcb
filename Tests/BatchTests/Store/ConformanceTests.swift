import BatchPostgres
import BatchStore
import Foundation
import Testing

/// A backend the conformance suite runs against: how to open a fresh,
/// empty store of it.
struct StoreBackend: Sendable, CustomTestStringConvertible {
    let name: String
    /// Opens a new, empty store; `scratch` is a new path in the test's
    /// temporary directory, for a backend that keeps a file.
    let open: @Sendable (_ scratch: String) throws -> any BatchStore

    var testDescription: String { name }

    static let sqlite = StoreBackend(name: "SQLite") { scratch in try SQLiteStore(path: scratch + ".db") }

    /// A fresh database of the test cluster for each store.
    static let postgres = StoreBackend(name: "PostgreSQL") { _ in try PostgresStore(conninfo: try PostgresCluster.freshDatabase()) }

    /// Every backend: PostgreSQL's server must be running (`scripts/test`
    /// starts one); without it those tests fail, they are not skipped.
    static var available: [StoreBackend] { [.sqlite, .postgres] }
}

/// `StoreConformance`, the behaviour every `BatchStore` backend must have,
/// run against each backend in `StoreBackend.available`, each test on fresh
/// stores.
@Suite struct ConformanceTests {
    let directory = TemporaryDirectory()

    func opener(_ backend: StoreBackend) -> StoreConformance.Factory {
        { [directory] in try backend.open(directory.file("store-\(UUID().uuidString.prefix(8))")) }
    }

    @Test(arguments: StoreBackend.available) func jobRoundTrip(_ backend: StoreBackend) throws {
        try StoreConformance.jobRoundTrip(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func appendKeepsOrderAndBytes(_ backend: StoreBackend) throws {
        try StoreConformance.appendKeepsOrderAndBytes(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func sealing(_ backend: StoreBackend) throws {
        try StoreConformance.sealing(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func claimsInInputOrderWhileInputArrives(_ backend: StoreBackend) throws {
        try StoreConformance.claimsInInputOrderWhileInputArrives(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func recordingAssignsCompletionOrderAndCompletes(_ backend: StoreBackend) throws {
        try StoreConformance.recordingAssignsCompletionOrderAndCompletes(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func completionOrderOfInterleavedBatchesPagesExactly(_ backend: StoreBackend) throws {
        try StoreConformance.completionOrderOfInterleavedBatchesPagesExactly(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func everyFieldOfAResultReadsBackAsRecorded(_ backend: StoreBackend) throws {
        try StoreConformance.everyFieldOfAResultReadsBackAsRecorded(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func failuresAreCountedAndBytesKept(_ backend: StoreBackend) throws {
        try StoreConformance.failuresAreCountedAndBytesKept(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func staleWriterIsFenced(_ backend: StoreBackend) throws {
        try StoreConformance.staleWriterIsFenced(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func groupCommitGuardsEachBatchByItsOwnLease(_ backend: StoreBackend) throws {
        try StoreConformance.groupCommitGuardsEachBatchByItsOwnLease(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func haltReachedInsideAGroupCommitStopsTheBatchesAfterIt(_ backend: StoreBackend) throws {
        try StoreConformance.haltReachedInsideAGroupCommitStopsTheBatchesAfterIt(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func expiredLeasesAreHandedBackAndRenewalsKeepThem(_ backend: StoreBackend) throws {
        try StoreConformance.expiredLeasesAreHandedBackAndRenewalsKeepThem(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func releasedChunksComeBeforeNewOnes(_ backend: StoreBackend) throws {
        try StoreConformance.releasedChunksComeBeforeNewOnes(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func claimableWorkIsUnclaimedLinesOrHandedBackChunks(_ backend: StoreBackend) throws {
        try StoreConformance.claimableWorkIsUnclaimedLinesOrHandedBackChunks(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func cancelStopsClaimsAndRecords(_ backend: StoreBackend) throws {
        try StoreConformance.cancelStopsClaimsAndRecords(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func daemonRecords(_ backend: StoreBackend) throws {
        try StoreConformance.daemonRecords(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func backlogCountsPendingRunningAndJobs(_ backend: StoreBackend) throws {
        try StoreConformance.backlogCountsPendingRunningAndJobs(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func finishTimesBySequence(_ backend: StoreBackend) throws {
        try StoreConformance.finishTimesBySequence(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func probeWriteChangesNothing(_ backend: StoreBackend) throws {
        try StoreConformance.probeWriteChangesNothing(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func haltNowEndsTheJobAndStopsOtherLeases(_ backend: StoreBackend) throws {
        try StoreConformance.haltNowEndsTheJobAndStopsOtherLeases(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func haltSoonLetsRunningItemsRecord(_ backend: StoreBackend) throws {
        try StoreConformance.haltSoonLetsRunningItemsRecord(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func retryResetsOnlyFailedItems(_ backend: StoreBackend) throws {
        try StoreConformance.retryResetsOnlyFailedItems(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func retryResumesACancelledJob(_ backend: StoreBackend) throws {
        try StoreConformance.retryResumesACancelledJob(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func medianDurationOfSuccesses(_ backend: StoreBackend) throws {
        try StoreConformance.medianDurationOfSuccesses(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func runningLimitGuardsClaimsAndSlotsAreFree(_ backend: StoreBackend) throws {
        try StoreConformance.runningLimitGuardsClaimsAndSlotsAreFree(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func groupResultsAndPolicyChanges(_ backend: StoreBackend) throws {
        try StoreConformance.groupResultsAndPolicyChanges(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func listsCountsAndDeletes(_ backend: StoreBackend) throws {
        try StoreConformance.listsCountsAndDeletes(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func concurrentClaimsNeverOverlap(_ backend: StoreBackend) throws {
        try StoreConformance.concurrentClaimsNeverOverlap(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func concurrentCommittersGiveGaplessSequences(_ backend: StoreBackend) throws {
        try StoreConformance.concurrentCommittersGiveGaplessSequences(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func staleWriterRacingARegrantGetsLeaseLost(_ backend: StoreBackend) throws {
        try StoreConformance.staleWriterRacingARegrantGetsLeaseLost(opener(backend))
    }
    @Test(arguments: StoreBackend.available) func waitingForAChangeEndsAtACommit(_ backend: StoreBackend) throws {
        try StoreConformance.waitingForAChangeEndsAtACommit(opener(backend))
    }
}

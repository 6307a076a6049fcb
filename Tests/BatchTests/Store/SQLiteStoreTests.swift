import BatchStore
@testable import BatchWorker
import Foundation
import Testing

/// The conformance suite against the SQLite backend, each test on a fresh
/// database file in a temporary directory, plus what is SQLite's own.
@Suite struct SQLiteStoreTests {
    let directory = TemporaryDirectory()

    func make() throws -> any BatchStore {
        try SQLiteStore(path: directory.file("store-\(UUID().uuidString.prefix(6)).db"))
    }

    @Test func jobRoundTrip() throws { try StoreConformance.jobRoundTrip(make) }
    @Test func appendKeepsOrderAndBytes() throws { try StoreConformance.appendKeepsOrderAndBytes(make) }
    @Test func sealing() throws { try StoreConformance.sealing(make) }
    @Test func claimsInInputOrderWhileInputArrives() throws { try StoreConformance.claimsInInputOrderWhileInputArrives(make) }
    @Test func recordingAssignsCompletionOrderAndCompletes() throws {
        try StoreConformance.recordingAssignsCompletionOrderAndCompletes(make)
    }
    @Test func failuresAreCountedAndBytesKept() throws { try StoreConformance.failuresAreCountedAndBytesKept(make) }
    @Test func staleWriterIsFenced() throws { try StoreConformance.staleWriterIsFenced(make) }
    @Test func groupCommitGuardsEachBatchByItsOwnLease() throws { try StoreConformance.groupCommitGuardsEachBatchByItsOwnLease(make) }
    @Test func haltReachedInsideAGroupCommitStopsTheBatchesAfterIt() throws { try StoreConformance.haltReachedInsideAGroupCommitStopsTheBatchesAfterIt(make) }
    @Test func expiredLeasesAreHandedBackAndRenewalsKeepThem() throws {
        try StoreConformance.expiredLeasesAreHandedBackAndRenewalsKeepThem(make)
    }
    @Test func releasedChunksComeBeforeNewOnes() throws { try StoreConformance.releasedChunksComeBeforeNewOnes(make) }
    @Test func cancelStopsClaimsAndRecords() throws { try StoreConformance.cancelStopsClaimsAndRecords(make) }
    @Test func daemonRecords() throws { try StoreConformance.daemonRecords(make) }
    @Test func haltNowEndsTheJobAndStopsOtherLeases() throws { try StoreConformance.haltNowEndsTheJobAndStopsOtherLeases(make) }
    @Test func haltSoonLetsRunningItemsRecord() throws { try StoreConformance.haltSoonLetsRunningItemsRecord(make) }
    @Test func retryResetsOnlyFailedItems() throws { try StoreConformance.retryResetsOnlyFailedItems(make) }
    @Test func retryResumesACancelledJob() throws { try StoreConformance.retryResumesACancelledJob(make) }
    @Test func medianDurationOfSuccesses() throws { try StoreConformance.medianDurationOfSuccesses(make) }

    // MARK: - SQLite's own

    @Test func connectionsOpeningANewFileAtOnceAllSucceed() async throws {
        // The race `scripts/demo` once lost: a CLI and the daemon it starts both
        // create the schema of a new file. Separate pools lock like processes.
        // Opening blocks (it waits for the lock), so each runs on a thread of
        // its own rather than on one of Swift's few cooperative threads.
        for round in 0..<20 {
            let path = directory.file("race-\(round).db")
            let failures = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        await BlockingThreads.shared.value {
                            do {
                                _ = try SQLiteStore(path: path)
                                return nil
                            } catch {
                                return "\(error)"
                            }
                        }
                    }
                }
                return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
            }
            #expect(failures == [])
        }
    }

    @Test func newDatabaseIsOwnerOnly() throws {
        let path = directory.file("sub/dir/new.db")
        _ = try SQLiteStore(path: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func fileThatIsNotADatabaseIsLeftUntouched() throws {
        let path = directory.file("notes.txt")
        let bytes = Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try bytes.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { _ = try SQLiteStore(path: path) }
        #expect(error?.code == .notADatabase)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func otherProgramsDatabaseIsRefused() throws {
        let path = directory.file("other.db")
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table t(x)'); c.commit()", path]
        try sqlite.run()
        sqlite.waitUntilExit()
        try #require(sqlite.terminationStatus == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { _ = try SQLiteStore(path: path) }
        #expect(error?.code == .notADatabase)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func reopeningKeepsEverything() throws {
        let path = directory.file("reopen.db")
        let id: JobID
        do {
            let store = try SQLiteStore(path: path)
            id = try store.jobCreate(StoreConformance.spec(), now: StoreConformance.t0).id
            try store.itemsAppendIfOpen(job: id, firstLine: 1, items: StoreConformance.items(["x"]))
            try store.close()
        }
        let store = try SQLiteStore(path: path)
        #expect(try store.jobFetch(id)?.itemCount == 1)
    }
}

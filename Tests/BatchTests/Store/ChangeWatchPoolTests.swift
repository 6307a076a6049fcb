@testable import BatchStore
import Synchronization
import Testing

/// The store's idle inotify watches (`ChangeWatchPool`).
@Suite struct ChangeWatchPoolTests {
    /// A watch given back is reused; at the store's close the idle ones are
    /// closed, and one given back by a wait still under way at the close is
    /// closed too (it was kept by the closed store: one descriptor leaked per
    /// wait in progress).
    @Test func watchesAreReusedAndAllClosedWithTheStore() {
        let closed = Mutex<[Int32]>([])
        let pool = ChangeWatchPool(closeDescriptor: { fd in closed.withLock { $0.append(fd) } })
        #expect(pool.take() == nil)
        pool.giveBack(7)
        #expect(pool.take() == 7)
        pool.giveBack(7)
        pool.giveBack(8)
        let inUse = pool.take()
        pool.close()
        #expect(closed.withLock { $0 } == [7])
        pool.giveBack(inUse!)
        #expect(closed.withLock { $0 } == [7, 8])
        #expect(pool.take() == nil)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A command's output as it is read: one malloc'd block grown with `realloc`
/// and handed over as `Data` without a copy. Large blocks are mmapped (batchd
/// fixes glibc's mmap threshold), and glibc grows those with `mremap`: the
/// output is never held twice while it grows. Growing a `Data` by appending
/// held up to three times a 15 MB output at once (measured with heaptrack).
struct GrowingBuffer: ~Copyable {
    private var base: UnsafeMutableRawPointer?
    private(set) var count = 0
    private var capacity = 0

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if count + bytes.count > capacity {
            let wanted = max(count + bytes.count, capacity * 2, 64 << 10)
            guard let grown = realloc(base, wanted) else { fatalError("out of memory for a command's output") }
            base = grown
            capacity = wanted
        }
        (base! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    /// The bytes as `Data`, which now owns the block.
    consuming func data() -> Data {
        let (base, count) = (self.base, self.count)
        discard self
        guard let base, count > 0 else {
            free(base)
            return Data()
        }
        return Data(bytesNoCopy: base, count: count, deallocator: .free)
    }

    deinit { free(base) }
}

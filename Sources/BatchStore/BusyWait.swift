import Foundation
import GRDB

/// How a connection waits for another process's write lock: short sleeps,
/// up to a total of `patience`.
///
/// SQLite's own busy timeout sleeps 1, 2, 5, 10 … 100 ms between tries.
/// Against a submitter that writes a batch every couple of milliseconds, a
/// daemon waiting that way kept missing the gaps between its transactions
/// and got no items at all until the input ended (measured: a million items
/// through `--stream` waited 1.5 s for the submitter). Polling every 50 µs
/// at first, then every millisecond, takes the lock in the next gap.
enum BusyWait {
    static func mode(patience: TimeInterval) -> Database.BusyMode {
        let quickTries = 20
        let quickTotal = 0.000_05 * Double(quickTries * (quickTries + 1) / 2)
        let maximumTries = quickTries + Int(max(0, patience - quickTotal) / 0.001)
        return .callback { tries in
            guard tries < maximumTries else { return false }
            usleep(useconds_t(tries < quickTries ? 50 * (tries + 1) : 1000))
            return true
        }
    }
}

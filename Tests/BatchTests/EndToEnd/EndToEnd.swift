import Testing

/// End-to-end tests: the real `batch` and `batchd` binaries, a real database
/// file, real signals. Serialized, because several of them look at timing and
/// the machine has two cores.
@Suite(.serialized) enum EndToEnd {}

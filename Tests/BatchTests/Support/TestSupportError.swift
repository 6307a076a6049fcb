/// A helper of the tests that could not do its part (a socket, a request).
struct TestSupportError: Error, CustomStringConvertible {
    var description: String
}

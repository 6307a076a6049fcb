import ArgumentParser
import BatchStore
import Foundation

/// A failure that ends a command: one line on stderr and a documented exit status.
struct CLIError: Error {
    var status: ExitStatus
    var message: String

    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    init(_ error: StoreError) {
        switch error.code {
        case .jobNotFound: self.init(.noSuchJob, error.message)
        case .jobState, .itemOrder: self.init(.jobState, error.message)
        case .notADatabase, .cannotOpen, .storage, .unavailable, .constraint: self.init(.storage, error.message)
        }
    }
}

/// Runs a command's body, turning every expected failure into one line on
/// stderr and its exit status, so no Swift error or backtrace reaches a user.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as CLIError {
        StandardError.line("batch: \(error.message)")
        throw error.status.exitCode
    } catch let error as StoreError {
        let cliError = CLIError(error)
        StandardError.line("batch: \(cliError.message)")
        throw cliError.status.exitCode
    } catch let error as ExitCode {
        throw error
    } catch is CancellationError {
        throw ExitCode(130)
    } catch {
        StandardError.line("batch: \(error)")
        throw ExitCode(70)
    }
}

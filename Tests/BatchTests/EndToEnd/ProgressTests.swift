import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// The progress line, through a real pseudo-terminal (`script` from
    /// util-linux gives the command one).
    @Suite struct Progress {
        static let command = "printf '1\\n2\\n3\\n4\\n' | '\(Binaries.batch.path)' run --chunksize 1 -- sh -c 'sleep 0.4; echo out-$1' _"

        @Test func drawnOnATerminalAndErasedAtTheEnd() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let terminal = try TestProcess(
                URL(fileURLWithPath: "/usr/bin/script"), ["-qec", Self.command, "/dev/null"], environment: env.environment)
            terminal.closeInput()
            #expect(terminal.wait(timeout: 60) == 0, "\(terminal.stderrText)")
            let screen = terminal.stdoutText
            let erase = "\r\u{1B}[K"
            // Redrawn in place, one write per frame: back to the start, the text,
            // then erase the old text's rest; never erased first (a flicker).
            #expect(screen.contains("\rbatch: job 1: "), "\(screen.debugDescription)")
            #expect(screen.contains("elapsed\u{1B}[K"), "\(screen.debugDescription)")
            #expect(!screen.contains(erase + "batch: job 1: "), "erased before it is drawn: \(screen.debugDescription)")
            #expect(screen.contains("/4 done"))
            // Every output line is whole (the progress line is erased before it), and the screen ends clean.
            for n in 1...4 { #expect(screen.contains(erase + "out-\(n)\r\n") || screen.contains("\nout-\(n)\r\n"), "\(screen.debugDescription)") }
            // A rate is shown once measured, never as 0.0/s beside items done (issue 19).
            for n in 1...4 { #expect(!screen.contains("\(n)/4 done, 0.0/s"), "\(screen.debugDescription)") }
            let tail = screen.components(separatedBy: "out-4").last ?? ""
            #expect(!tail.contains("batch: job"), "no progress line is left after the last output: \(tail.debugDescription)")
        }

        /// Items typed at a terminal: say so, rather than wait showing "0/0 so far".
        @Test func itemsReadFromATerminalAreAnnounced() throws {
            let env = BatchEnvironment()
            let terminal = try TestProcess(
                URL(fileURLWithPath: "/usr/bin/script"), ["-qec", "'\(Binaries.batch.path)' submit -- echo", "/dev/null"],
                environment: env.environment)
            #expect(TestProcess.eventually(timeout: 30) { terminal.stdoutText.contains("reading items from the terminal") },
                    "\(terminal.stdoutText.debugDescription)")
            terminal.write("a\n")
            usleep(200_000)
            terminal.write("\u{04}")
            #expect(terminal.wait(timeout: 30) == 0, "\(terminal.stdoutText.debugDescription)")
            #expect(try env.store().jobsList(limit: 1).first?.itemCount == 1)
        }

        @Test func silentWhenNotATerminalUnlessAsked() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let input = "1\n2\n"
            let quiet = try env.batch(["run", "--", "sh", "-c", "sleep 0.3; echo out-$1", "_"], input: input)
            #expect(quiet.out == "out-1\nout-2\n")
            #expect(quiet.err.isEmpty)
            let asked = try env.batch(["run", "--progress", "--", "sh", "-c", "sleep 0.3; echo out-$1", "_"], input: input)
            #expect(asked.out == "out-1\nout-2\n", "progress never goes to stdout")
            #expect(asked.err.contains("batch: job 2: "), "\(asked.err)")
            #expect(!asked.err.contains("\u{1B}["), "no escape codes outside a terminal")
            let off = try env.batch(["run", "--progress", "--no-progress", "--", "echo"], input: input)
            #expect(off.err.isEmpty)
        }
    }
}

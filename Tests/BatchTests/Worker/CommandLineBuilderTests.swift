import BatchStore
import BatchWorker
import Foundation
import Testing

@Suite struct CommandLineBuilderTests {
    func text(_ argv: [[UInt8]]) -> [String] { argv.map { String(decoding: $0, as: UTF8.self) } }

    @Test func appendsTheItemWithoutPlaceholder() {
        let builder = CommandLineBuilder(command: ["gzip", "-k"])
        #expect(text(builder.argv(for: Data("a b.txt".utf8))) == ["gzip", "-k", "a b.txt"])
    }

    @Test func replacesEveryPlaceholder() {
        let builder = CommandLineBuilder(command: ["cp", "{}", "backup/{}.bak"])
        #expect(text(builder.argv(for: Data("x".utf8))) == ["cp", "x", "backup/x.bak"])
    }

    @Test func keepsRawBytes() {
        let item = Data([0xFF, 0x41])
        #expect(CommandLineBuilder(command: ["echo"]).argv(for: item).last == [0xFF, 0x41])
    }

    @Test func durations() {
        #expect(DurationText.seconds("500ms") == 0.5)
        #expect(DurationText.seconds("2s") == 2)
        #expect(DurationText.seconds("5m") == 300)
        #expect(DurationText.seconds("1h") == 3600)
        #expect(DurationText.seconds("1.5") == 1.5)
        #expect(DurationText.seconds("-1s") == nil)
        #expect(DurationText.seconds("soon") == nil)
    }

    @Test func haltPolicies() {
        #expect(HaltPolicy(parsing: "now,fail=3") == HaltPolicy(when: .now, threshold: .count(3)))
        #expect(HaltPolicy(parsing: "soon,fail=10%") == HaltPolicy(when: .soon, threshold: .percent(10)))
        #expect(HaltPolicy(parsing: "fail=1") == HaltPolicy(when: .now, threshold: .count(1)))
        for bad in ["now", "later,fail=1", "now,fail=0", "soon,fail=150%", "now,fail=x", ""] {
            #expect(HaltPolicy(parsing: bad) == nil, "\(bad)")
        }
        let tenPercent = HaltPolicy(when: .soon, threshold: .percent(10))
        #expect(!tenPercent.isReached(failed: 1, finished: 2))
        #expect(tenPercent.isReached(failed: 1, finished: 10))
        #expect(!tenPercent.isReached(failed: 1, finished: 11))
    }

    @Test func itemTimeouts() {
        #expect(ItemTimeout(parsing: "2s") == .seconds(2))
        #expect(ItemTimeout(parsing: "300%") == .percentOfMedian(300))
        #expect(ItemTimeout(parsing: "0s") == nil)
        #expect(ItemTimeout(parsing: "-5%") == nil)
    }
}

/// `{}` in the script of `sh -c` is quoted for the shell (issue 9): an item is
/// data, never code.
@Suite struct ShellQuotingTests {
    func text(_ argv: [[UInt8]]) -> [String] { argv.map { String(decoding: $0, as: UTF8.self) } }

    @Test func anItemCannotInjectShellCode() {
        let builder = CommandLineBuilder(command: ["sh", "-c", "echo {}", "_"])
        #expect(text(builder.argv(for: Data("x; touch /tmp/pwned".utf8))) == ["sh", "-c", "echo 'x; touch /tmp/pwned'", "_"])
        #expect(text(builder.argv(for: Data("it's".utf8))) == ["sh", "-c", "echo 'it'\\''s'", "_"])
        #expect(text(builder.argv(for: Data("$(id)".utf8))) == ["sh", "-c", "echo '$(id)'", "_"])
    }

    @Test func plainItemsAndOtherArgumentsAreAsBefore() {
        let builder = CommandLineBuilder(command: ["/bin/bash", "-ec", "gzip {}", "name {}"])
        #expect(text(builder.argv(for: Data("a/b-1.txt".utf8))) == ["/bin/bash", "-ec", "gzip a/b-1.txt", "name a/b-1.txt"])
        #expect(text(builder.argv(for: Data("a b".utf8))) == ["/bin/bash", "-ec", "gzip 'a b'", "name a b"])
        #expect(text(CommandLineBuilder(command: ["echo", "{}"]).argv(for: Data("a;b".utf8))) == ["echo", "a;b"])
        #expect(text(CommandLineBuilder(command: ["sh", "script.sh", "{}"]).argv(for: Data("a b".utf8))) == ["sh", "script.sh", "a b"])
        #expect(text(CommandLineBuilder(command: ["sh", "-c", "echo {}"]).argv(for: Data()))  == ["sh", "-c", "echo ''"])
    }

    @Test func hugeDurationsAreRefused() {
        #expect(DurationText.seconds("99999999999999999h") == nil)
        #expect(DurationText.seconds("200000000000000000000s") == nil)
        #expect(DurationText.seconds("36500d") != nil)
        #expect(ItemTimeout(parsing: "9999999999999999999999999%") == nil)
        #expect(ItemTimeout.seconds(1e30).seconds(median: nil) == DurationText.maximumSeconds)
        #expect(ItemTimeout.percentOfMedian(1e30).seconds(median: 10) == DurationText.maximumSeconds)
    }
}

/// GNU parallel's replacement strings (issue 10), checked against its
/// documented outputs.
@Suite struct ReplacementStringTests {
    func text(_ argv: [[UInt8]]) -> [String] { argv.map { String(decoding: $0, as: UTF8.self) } }

    @Test func everyReplacementStringAsGNUParallelDefinesIt() {
        let builder = CommandLineBuilder(command: ["echo", "{}", "{.}", "{/}", "{//}", "{/.}", "{#}"])
        #expect(text(builder.argv(for: Data("dir/sub/file.tar.gz".utf8), line: 7))
            == ["echo", "dir/sub/file.tar.gz", "dir/sub/file.tar", "file.tar.gz", "dir/sub", "file.tar", "7"])
        #expect(text(builder.argv(for: Data("file".utf8), line: 1)) == ["echo", "file", "file", "file", ".", "file", "1"])
        #expect(text(builder.argv(for: Data("a.d/b".utf8), line: 2)) == ["echo", "a.d/b", "a.d/b", "b", "a.d", "b", "2"])
    }

    @Test func replacementsInsideWordsAndScripts() {
        let builder = CommandLineBuilder(command: ["sh", "-c", "convert {} {.}.png", "_"])
        #expect(text(builder.argv(for: Data("my photo.jpg".utf8), line: 1))
            == ["sh", "-c", "convert 'my photo.jpg' 'my photo'.png", "_"])
        #expect(text(CommandLineBuilder(command: ["mv", "{}", "{//}/old-{/}"]).argv(for: Data("a/b.txt".utf8), line: 1))
            == ["mv", "a/b.txt", "a/old-b.txt"])
        #expect(text(CommandLineBuilder(command: ["echo", "{x}", "{"]).argv(for: Data("i".utf8), line: 1))
            == ["echo", "{x}", "{", "i"], "no replacement string: the item is appended")
    }
}

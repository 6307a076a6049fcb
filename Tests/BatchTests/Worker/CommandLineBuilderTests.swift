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

/// Groups (`-n`, `-X`), columns, `-I` and `{%}` (issue 10), against GNU
/// parallel's documented behaviour.
@Suite struct GroupedCommandLineTests {
    func text(_ argv: [[UInt8]]) -> [String] { argv.map { String(decoding: $0, as: UTF8.self) } }
    func items(_ values: String...) -> [CommandLineBuilder.Item] {
        values.enumerated().map { CommandLineBuilder.Item(Array($0.element.utf8), line: Int64($0.offset + 1)) }
    }

    @Test func groupsAppendOrRepeatTheirContext() {
        #expect(text(CommandLineBuilder(command: ["echo"]).argv(for: items("a", "b", "c"))) == ["echo", "a", "b", "c"])
        // parallel -X echo pre-{}-post ::: a b c
        #expect(text(CommandLineBuilder(command: ["echo", "pre-{}-post"]).argv(for: items("a", "b", "c")))
            == ["echo", "pre-a-post", "pre-b-post", "pre-c-post"])
        // Inside a shell script: the values quoted, joined by spaces.
        #expect(text(CommandLineBuilder(command: ["sh", "-c", "ls {}"]).argv(for: items("a b", "c")))
            == ["sh", "-c", "ls 'a b' c"])
    }

    @Test func groupsStopAtTheirCountOrTheCommandLineBudget() {
        let builder = CommandLineBuilder(command: ["echo"])
        let many = (1...1000).map { CommandLineBuilder.Item(Array(String(repeating: "x", count: 1000).utf8), line: Int64($0)) }
        #expect(builder.groupCount(many[...], grouping: .items(3)) == 3)
        // -X fills 128 KiB: about 130 arguments of 1,009 bytes (with NUL and pointer).
        let filled = builder.groupCount(many[...], grouping: .fitCommandLine)
        #expect(filled > 100 && filled < 131, "\(filled)")
        #expect(builder.groupCount(many[..<1], grouping: .fitCommandLine) == 1)
    }

    @Test func columnsSlotAndAnotherPlaceholder() throws {
        let columns = try ColumnSplitter(pattern: ",")
        let builder = CommandLineBuilder(arguments: [Array("echo".utf8), Array("{2}".utf8), Array("{1}".utf8), Array("{3}".utf8)], columns: columns)
        #expect(text(builder.argv(for: Data("x,y".utf8))) == ["echo", "y", "x", ""])
        #expect(try ColumnSplitter(pattern: "\\t").split(Array("a\tb\t\tc".utf8)).map { String(decoding: $0, as: UTF8.self) } == ["a", "b", "", "c"])
        #expect(try ColumnSplitter(pattern: "\\s+").split(Array("a  b".utf8)).count == 2)
        #expect(throws: ColumnSplitter.InvalidPattern.self) { try ColumnSplitter(pattern: "(") }
        // Without --colsep, {1} is the item.
        #expect(text(CommandLineBuilder(command: ["echo", "{1}"]).argv(for: Data("a,b".utf8))) == ["echo", "a,b"])
        #expect(text(CommandLineBuilder(command: ["run", "--gpu={%}", "{}"]).argv(for: Data("i".utf8), line: 1, slot: 2))
            == ["run", "--gpu=2", "i"])
        // -I XX: only XX stands for the item; {} is then a literal.
        let custom = CommandLineBuilder(arguments: ["mv", "XX", "XX.bak", "{}"].map { Array($0.utf8) }, itemToken: Array("XX".utf8))
        #expect(text(custom.argv(for: Data("f".utf8))) == ["mv", "f", "f.bak", "{}"])
    }

    @Test func shellLinesReadBackAsTheSameArguments() {
        #expect(String(decoding: CommandLineBuilder.shellLine([Array("echo".utf8), Array("a b".utf8), Array("it's".utf8)]), as: UTF8.self)
            == "echo 'a b' 'it'\\''s'")
    }

    @Test func runningLimits() {
        #expect(RunningLimit(parsing: "4") == .count(4))
        #expect(RunningLimit(parsing: "50%")?.limit(workers: 6) == 3)
        #expect(RunningLimit(parsing: "10%")?.limit(workers: 2) == 1, "at least one")
        for bad in ["0", "-1", "x", "0%", ""] { #expect(RunningLimit(parsing: bad) == nil, "\(bad)") }
    }
}

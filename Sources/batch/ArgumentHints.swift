import ArgumentParser

/// Argument mistakes worth more than the parser's own message: a misspelled
/// subcommand (`sumbit`), and a misspelled option before the command, which
/// would otherwise be taken for the command itself (after the first word
/// that is not one of batch's options, everything is the command's, as with
/// xargs and GNU parallel).
enum ArgumentHints {
    static var subcommands: [String] {
        Batch.configuration.subcommands.compactMap { $0.configuration.commandName } + ["help"]
    }

    /// A line for a first argument that is no subcommand, or `nil`.
    static func unknownSubcommand(_ arguments: [String]) -> String? {
        guard let first = arguments.first, !first.hasPrefix("-"), !subcommands.contains(first) else { return nil }
        if let near = nearest(first, in: subcommands) {
            return "'\(first)' is not a batch command; did you mean '\(near)'? (batch --help lists them)"
        }
        return "'\(first)' is not a batch command; the commands are: \(subcommands.joined(separator: ", "))"
    }

    /// A line for a command word that looks like a misspelled option of
    /// `submit`/`run` (`--chunksiz 5 -- echo`), or `nil`.
    static func optionTakenForCommand(_ word: String, options: [String]) -> String? {
        guard word.hasPrefix("-"), word != "-", word != "--" else { return nil }
        let name = String(word.split(separator: "=", maxSplits: 1).first ?? "")
        let suggestion = nearest(name, in: options).map { " (did you mean '\($0)'?)" } ?? ""
        return "unknown option '\(name)'\(suggestion); the command goes after --, as in: batch run -- echo"
    }

    /// The candidate within two edits of `word`, if one is.
    static func nearest(_ word: String, in candidates: [String]) -> String? {
        candidates.map { ($0, distance(word, $0)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
    }

    /// Levenshtein distance, with a swap of two neighbours counting as one.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}

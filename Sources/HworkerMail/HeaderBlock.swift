// Writes message and part headers with CRLF endings and RFC 5322 folding.
//
// A header value is handed over as tokens that may be separated by one space;
// the writer puts them on one line and folds (CRLF plus a space, in place of
// the separating space) whenever the next token would pass 78 columns. Tokens
// themselves are never split, so a single token longer than a line stays
// whole: callers keep tokens short (encoded-words are at most 75 characters)
// or switch to encoded-words when a plain token would pass 998.

/// A block of header lines being written.
struct HeaderBlock {
    private static let foldColumn = 78
    /// The longest plain token kept as is; past it, unstructured text is encoded.
    private static let longestPlainToken = 900

    /// The header lines written so far, each ended by CRLF.
    private(set) var bytes: [UInt8] = []

    /// Appends `name: token token ...`, folding between tokens.
    mutating func append(_ name: String, tokens: [String]) {
        bytes.append(contentsOf: name.utf8)
        bytes.append(0x3A)
        var column = name.utf8.count + 1
        var hasToken = false
        for token in tokens {
            let width = token.utf8.count
            if hasToken && !token.isEmpty && column + 1 + width > Self.foldColumn {
                bytes.append(contentsOf: [0x0D, 0x0A])
                column = 0
            }
            bytes.append(0x20)
            bytes.append(contentsOf: token.utf8)
            column += 1 + width
            hasToken = true
        }
        bytes.append(contentsOf: [0x0D, 0x0A])
    }

    /// Appends a header of free text (Subject, extra headers), as encoded-words when
    /// it is not plain ASCII or has a word too long to fold.
    mutating func appendText(_ name: String, _ value: String) {
        let words = value.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let tooLong = words.contains { $0.utf8.count > Self.longestPlainToken }
        if EncodedWords.needsEncoding(value) || tooLong {
            append(name, tokens: EncodedWords.encode(value))
        } else {
            append(name, tokens: words)
        }
    }

    /// Appends an address list, such as `To`, separating addresses with commas.
    mutating func appendAddresses(_ name: String, _ addresses: [String]) {
        var tokens: [String] = []
        for (index, address) in addresses.enumerated() {
            var parts = address.split(separator: " ").map(String.init)
            if index < addresses.count - 1, let last = parts.popLast() {
                parts.append(last + ",")
            }
            tokens.append(contentsOf: parts)
        }
        append(name, tokens: tokens)
    }

    /// Appends `name: value; p1=v1; p2=v2`, folding between parameters.
    mutating func appendParameters(_ name: String, _ value: String, _ parameters: [String]) {
        var tokens = [parameters.isEmpty ? value : value + ";"]
        for (index, parameter) in parameters.enumerated() {
            tokens.append(index < parameters.count - 1 ? parameter + ";" : parameter)
        }
        append(name, tokens: tokens)
    }

    /// Ends the block with the empty line that separates headers from the body.
    mutating func finish() -> [UInt8] {
        bytes.append(contentsOf: [0x0D, 0x0A])
        return bytes
    }
}

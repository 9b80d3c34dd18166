// A light look at the header section of a producer's raw MIME message.
//
// Validation needs two facts from it: whether there is a From header, and how
// many addresses the To, Cc and Bcc headers name (SES counts those against the
// recipient limit and the sending rate when the request names none). It reads
// only the header section, unfolds it, and counts `@` signs outside quoted
// strings and comments, which is exact for every address list that is not
// malformed. It is not a MIME parser.

/// The header section of a raw message.
struct RawMessageHeaders {
    /// Unfolded header lines as (lower-cased name, value).
    private(set) var fields: [(name: String, value: String)] = []

    /// Reads the headers of `raw`, up to the first empty line.
    init(_ raw: [UInt8]) {
        var current: [UInt8] = []
        for line in Self.headerLines(raw) {
            if let first = line.first, first == 0x20 || first == 0x09 {
                current.append(contentsOf: line)
                continue
            }
            add(current)
            current = Array(line)
        }
        add(current)
    }

    /// Whether a header of this name (lower case) is present.
    func contains(_ name: String) -> Bool {
        fields.contains { $0.name == name }
    }

    /// The number of addresses in To, Cc and Bcc.
    var recipientCount: Int {
        fields.filter { ["to", "cc", "bcc"].contains($0.name) }
            .map { Self.countAddresses($0.value) }
            .reduce(0, +)
    }

    private mutating func add(_ line: [UInt8]) {
        guard let colon = line.firstIndex(of: 0x3A) else { return }
        let name = String(decoding: line[..<colon], as: UTF8.self).trimmingSpaces.lowercased()
        let value = String(decoding: line[(colon + 1)...], as: UTF8.self)
        fields.append((name, value))
    }

    /// Lines of the header section without their line breaks.
    private static func headerLines(_ raw: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for index in raw.indices where raw[index] == 0x0A {
            var end = index
            if end > start && raw[end - 1] == 0x0D { end -= 1 }
            if end == start { return lines }
            lines.append(raw[start..<end])
            start = index + 1
        }
        if start < raw.count { lines.append(raw[start...]) }
        return lines
    }

    /// Counts `@` outside quoted strings and comments.
    private static func countAddresses(_ value: String) -> Int {
        var count = 0
        var inQuote = false
        var commentDepth = 0
        var escaped = false
        for c in value {
            if escaped {
                escaped = false
                continue
            }
            switch c {
            case "\\": escaped = inQuote || commentDepth > 0
            case "\"" where commentDepth == 0: inQuote.toggle()
            case "(" where !inQuote: commentDepth += 1
            case ")" where !inQuote && commentDepth > 0: commentDepth -= 1
            case "@" where !inQuote && commentDepth == 0: count += 1
            default: break
            }
        }
        return count
    }
}

// Reading a job's id from the first bytes of its wire form.
//
// `stats` shows the id of the job each worker holds. Jobs with attachments
// can be megabytes long, so the snapshot script returns only their first
// bytes; producers put `id` first (this library does), and the top-level
// keys of the prefix are walked without decoding the rest. When the id is
// not in the prefix, the caller fetches the whole job instead.

import FoundationEssentials

extension Job {
    /// The top-level `id` of a job's wire form, read from its first bytes.
    ///
    /// - Parameter head: The job's first bytes (possibly cut in the middle of a value).
    /// - Returns: The id, or `nil` when the prefix ends before it or it is not a string.
    static func peekID(_ head: [UInt8]) -> String? {
        var scanner = JSONPrefixScanner(bytes: head)
        return scanner.topLevelString(forKey: "id")
    }
}

/// A forward-only walk over the top-level members of a JSON object that may be cut short.
struct JSONPrefixScanner {
    let bytes: [UInt8]
    var index = 0

    /// The value of a top-level string member, decoded.
    mutating func topLevelString(forKey key: String) -> String? {
        skipSpace()
        guard take(0x7B) else { return nil }
        while true {
            skipSpace()
            guard let name = stringToken() else { return nil }
            skipSpace()
            guard take(0x3A) else { return nil }
            skipSpace()
            if Self.decode(name) == key {
                return stringToken().flatMap(Self.decode)
            }
            guard skipValue() else { return nil }
            skipSpace()
            // A closing brace means the object has no such member.
            guard take(0x2C) else { return nil }
        }
    }

    /// The bytes of a string token, quotes included; `nil` if there is none or it is cut.
    private mutating func stringToken() -> ArraySlice<UInt8>? {
        guard index < bytes.count, bytes[index] == 0x22 else { return nil }
        let start = index
        index += 1
        while index < bytes.count {
            switch bytes[index] {
            case 0x5C: index += 2
            case 0x22:
                index += 1
                return bytes[start..<index]
            default: index += 1
            }
        }
        return nil
    }

    /// Skips one value of any type; false when the bytes end first.
    private mutating func skipValue() -> Bool {
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case 0x22:
            return stringToken() != nil
        case 0x7B, 0x5B:
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case 0x22:
                    guard stringToken() != nil else { return false }
                    continue
                case 0x7B, 0x5B: depth += 1
                case 0x7D, 0x5D:
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return true
                    }
                default: break
                }
                index += 1
            }
            return false
        default:
            // A number, true, false or null runs to the next delimiter.
            while index < bytes.count,
                ![0x2C, 0x7D, 0x5D, 0x20, 0x09, 0x0A, 0x0D].contains(bytes[index])
            {
                index += 1
            }
            return index < bytes.count
        }
    }

    private mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// Decodes a string token with JSON's escapes.
    private static func decode(_ token: ArraySlice<UInt8>) -> String? {
        let wrapped = [0x5B] + Array(token) + [0x5D]
        return (try? JSONDecoder().decode([String].self, from: Data(wrapped)))?.first
    }
}

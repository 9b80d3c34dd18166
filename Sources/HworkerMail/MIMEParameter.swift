// Content-Type and Content-Disposition parameters, such as `filename`.
//
// A short printable-ASCII value goes as a quoted string. Anything else
// (non-ASCII, control characters, or too long for one line) goes in RFC 2231
// form, `name*=utf-8''%E2%82%AC.pdf`, split into numbered continuations
// (`name*0*=`, `name*1*=`) of at most 60 characters each so that every header
// line stays short. Percent escapes are never cut in half.

/// Formatting of MIME header parameters.
enum MIMEParameter {
    private static let segmentLength = 60

    /// Returns the parameter in one or more `name=value` pieces, one per header token.
    static func format(_ name: String, _ value: String) -> [String] {
        let plain = value.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) }
        if plain && value.utf8.count <= segmentLength {
            return ["\(name)=\(quoted(value))"]
        }

        let segments = percentSegments("utf-8''", value)
        if segments.count == 1 { return ["\(name)*=\(segments[0])"] }
        return segments.enumerated().map { "\(name)*\($0.offset)*=\($0.element)" }
    }

    /// A quoted string with `"` and `\` escaped.
    static func quoted(_ value: String) -> String {
        var result = "\""
        for c in value {
            if c == "\"" || c == "\\" { result.append("\\") }
            result.append(c)
        }
        return result + "\""
    }

    /// The RFC 2231 extended value, `prefix` then percent escapes, cut into segments.
    private static func percentSegments(_ prefix: String, _ value: String) -> [String] {
        var segments: [String] = []
        var current = prefix
        for byte in value.utf8 {
            let piece = isAttributeChar(byte) ? String(UnicodeScalar(byte)) : escape(byte)
            if current.utf8.count + piece.utf8.count > segmentLength {
                segments.append(current)
                current = ""
            }
            current += piece
        }
        segments.append(current)
        return segments
    }

    private static func escape(_ byte: UInt8) -> String {
        let hex = Array("0123456789ABCDEF")
        return "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0x0F)])
    }

    /// RFC 2231 `attribute-char`: a MIME token character other than `*`, `'` and `%`.
    private static func isAttributeChar(_ byte: UInt8) -> Bool {
        guard (0x21...0x7E).contains(byte) else { return false }
        return !"()<>@,;:\\\"/[]?=*'%".utf8.contains(byte)
    }

    /// Whether `text` is a MIME `token` (RFC 2045): printable ASCII without tspecials.
    static func isToken(_ text: Substring) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                (0x21...0x7E).contains(byte) && !"()<>@,;:\\\"/[]?=".utf8.contains(byte)
            }
    }
}

// Just enough XML reading for SES v1 answers.
//
// SES v1 (Query API) answers are small, flat documents in which every value
// the client needs (Code, Message, RequestId, Max24HourSend, ...) is the text
// of an element whose name occurs once. Finding `<Name>` and the next
// `</Name>` and decoding the five predefined entities and numeric character
// references is therefore exact for them. This is not an XML parser: it does
// not handle CDATA, comments hiding tags, or repeated names.

/// Text lookups in small, flat XML documents.
enum XMLText {
    /// The decoded text of the first element named `name`, or `nil` if there is none.
    static func element(_ name: String, in document: String) -> String? {
        var searchStart = document.startIndex
        while let open = document[searchStart...].firstRange(of: "<\(name)") {
            guard let close = document[open.upperBound...].firstIndex(of: ">") else { return nil }
            let attributes = document[open.upperBound..<close]
            // `<CodeX>` is another element; `<Code xmlns="...">` and `<Code/>` are this one.
            guard attributes.isEmpty || attributes.first == " " || attributes == "/" else {
                searchStart = close
                continue
            }
            if attributes == "/" { return "" }
            let contentStart = document.index(after: close)
            guard let end = document[contentStart...].firstRange(of: "</\(name)>") else {
                return nil
            }
            return decodeEntities(document[contentStart..<end.lowerBound])
        }
        return nil
    }

    /// Replaces `&lt;`, `&gt;`, `&amp;`, `&quot;`, `&apos;` and `&#N;` / `&#xN;`.
    static func decodeEntities(_ text: Substring) -> String {
        var result = ""
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            result += rest[..<amp]
            guard let semicolon = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semicolon]
            if let decoded = decode(entity) {
                result += decoded
            } else {
                result += rest[amp...semicolon]
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return result + rest
    }

    private static func decode(_ entity: Substring) -> String? {
        switch entity {
        case "lt": return "<"
        case "gt": return ">"
        case "amp": return "&"
        case "quot": return "\""
        case "apos": return "'"
        default:
            guard entity.first == "#" else { return nil }
            let digits = entity.dropFirst()
            let value =
                digits.first == "x" ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
            return value.flatMap(Unicode.Scalar.init).map { String($0) }
        }
    }
}

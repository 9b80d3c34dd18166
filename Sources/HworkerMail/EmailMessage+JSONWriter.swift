// Writing an email's wire form by hand: the JSON its `Encodable` conformance
// describes (same keys in the same order, empty lists and absent fields left
// out), without JSONEncoder's cost, for producers that enqueue many jobs.

extension EmailMessage {
    /// Appends the message's wire form, a JSON object, to `out`.
    ///
    /// - Parameter out: The buffer to append to.
    public func appendJSON(to out: inout [UInt8]) {
        var object = JSONObjectWriter(&out)
        object.member("from", from, &out)
        object.member("to", to, &out)
        object.member("cc", cc, &out)
        object.member("bcc", bcc, &out)
        object.member("reply_to", replyTo, &out)
        object.member("subject", subject, &out)
        object.member("text", text, &out)
        object.member("html", html, &out)
        object.pairs("headers", headers.map { ($0.name, $0.value) }, &out)
        object.objects("attachments", attachments, &out) { attachment, inner, out in
            inner.member("filename", attachment.filename, &out)
            inner.member("content_type", attachment.contentType, &out)
            inner.key("data", &out)
            JSONObjectWriter.appendBase64(attachment.data, to: &out)
        }
        if let raw {
            object.key("raw", &out)
            JSONObjectWriter.appendBase64(raw, to: &out)
        }
        object.member("configuration_set", configurationSet, &out)
        object.pairs("tags", tags.map { ($0.name, $0.value) }, &out)
        object.finish(&out)
    }
}

/// Writes the members of one JSON object into a buffer the caller owns.
public struct JSONObjectWriter {
    private var empty = true

    /// Opens an object at the end of `out`.
    public init(_ out: inout [UInt8]) {
        out.append(0x7B)
    }

    /// Writes a member's key (and the comma before it); the value comes next.
    public mutating func key(_ name: String, _ out: inout [UInt8]) {
        if !empty { out.append(0x2C) }
        empty = false
        Self.appendString(name, to: &out)
        out.append(0x3A)
    }

    /// Writes a string member; nothing when `value` is nil.
    public mutating func member(_ name: String, _ value: String?, _ out: inout [UInt8]) {
        guard let value else { return }
        key(name, &out)
        Self.appendString(value, to: &out)
    }

    /// Writes a list of strings; nothing when it is empty.
    public mutating func member(_ name: String, _ values: [String], _ out: inout [UInt8]) {
        guard !values.isEmpty else { return }
        key(name, &out)
        out.append(0x5B)
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(0x2C) }
            Self.appendString(value, to: &out)
        }
        out.append(0x5D)
    }

    /// Writes a list of `{"name", "value"}` objects; nothing when it is empty.
    mutating func pairs(_ name: String, _ pairs: [(String, String)], _ out: inout [UInt8]) {
        objects(name, pairs, &out) { pair, inner, out in
            inner.member("name", pair.0, &out)
            inner.member("value", pair.1, &out)
        }
    }

    /// Writes a list of objects, one per item, whose members `write` adds; nothing
    /// when the list is empty.
    public mutating func objects<Item>(
        _ name: String, _ items: [Item], _ out: inout [UInt8],
        _ write: (Item, inout JSONObjectWriter, inout [UInt8]) -> Void
    ) {
        guard !items.isEmpty else { return }
        key(name, &out)
        out.append(0x5B)
        for (index, item) in items.enumerated() {
            if index > 0 { out.append(0x2C) }
            var inner = JSONObjectWriter(&out)
            write(item, &inner, &out)
            inner.finish(&out)
        }
        out.append(0x5D)
    }

    /// Closes the object.
    public func finish(_ out: inout [UInt8]) {
        out.append(0x7D)
    }

    /// Appends bytes as a JSON string of their standard base64 form.
    static func appendBase64(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.append(0x22)
        Base64.append(bytes, to: &out)
        out.append(0x22)
    }

    /// Appends `text` as a JSON string: quotes, backslashes and control characters
    /// escaped, everything else as UTF-8.
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(0x22)
        var text = text
        text.withUTF8 { bytes in
            var start = 0
            var index = 0
            while index < bytes.count {
                // Eight bytes at a time while none of them needs escaping.
                if index + 8 <= bytes.count,
                    !needsEscape(
                        UnsafeRawBufferPointer(bytes).loadUnaligned(
                            fromByteOffset: index, as: UInt64.self))
                {
                    index += 8
                    continue
                }
                let byte = bytes[index]
                index += 1
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                out.append(contentsOf: bytes[start..<index - 1])
                start = index
                switch byte {
                case 0x22, 0x5C: out += [0x5C, byte]
                case 0x0A: out += [0x5C, 0x6E]
                case 0x0D: out += [0x5C, 0x72]
                case 0x09: out += [0x5C, 0x74]
                default: out += [0x5C, 0x75, 0x30, 0x30, hexDigit(byte >> 4), hexDigit(byte & 15)]
                }
            }
            out.append(contentsOf: bytes[start...])
        }
        out.append(0x22)
    }

    /// Whether any of the eight bytes in `word` is a control character, `"` or `\`
    /// (the classic "has a byte less than n" and "has a zero byte" bit tricks).
    private static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZero(_ x: UInt64) -> Bool { (x &- ones) & ~x & highs != 0 }
        let control = (word &- ones &* 0x20) & ~word & highs != 0
        return control || hasZero(word ^ (ones &* 0x22)) || hasZero(word ^ (ones &* 0x5C))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? 0x30 + value : 0x57 + value
    }
}

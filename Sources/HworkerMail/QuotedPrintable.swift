// Quoted-printable (RFC 2045 section 6.7) for text and HTML bodies.
//
// Chosen over base64 for bodies because mostly-ASCII text stays readable and
// nearly the same size. Line breaks in the input (CRLF, LF or a lone CR) all
// become CRLF hard breaks, and the output ends with one only if the input did,
// so that a decoder gets the text back exactly (up to line-break style). Lines
// are cut with soft breaks so that no encoded line exceeds 76 characters. `=`
// and bytes outside printable ASCII are escaped, and so is whitespace at the
// end of a line, which transports may strip. The output never contains the
// sequence `=_`, so it cannot collide with the renderer's boundaries.

/// Quoted-printable encoding of text bodies.
enum QuotedPrintable {
    private static let maxLine = 76
    private static let hex = Array("0123456789ABCDEF".utf8)

    /// Appends the encoded form of `text` to `out`, with CRLF between lines.
    static func append(_ text: String, to out: inout [UInt8]) {
        for (index, line) in lines(of: Array(text.utf8)).enumerated() {
            if index > 0 { out.append(contentsOf: [0x0D, 0x0A]) }
            appendLine(line, to: &out)
        }
    }

    /// Splits at CRLF, LF or a lone CR; a break at the very end leaves an empty last line.
    private static func lines(of bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var start = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == 0x0D || byte == 0x0A else {
                index += 1
                continue
            }
            result.append(bytes[start..<index])
            let pair = byte == 0x0D && index + 1 < bytes.count && bytes[index + 1] == 0x0A
            index += pair ? 2 : 1
            start = index
        }
        result.append(bytes[start...])
        return result
    }

    /// Encodes one line without its break, cutting it with soft breaks.
    private static func appendLine(_ line: ArraySlice<UInt8>, to out: inout [UInt8]) {
        var length = 0
        for index in line.indices {
            let byte = line[index]
            let isLast = index == line.index(before: line.endIndex)
            let isBlank = byte == 0x20 || byte == 0x09
            let literal = isLiteral(byte) || (isBlank && !isLast)
            let width = literal ? 1 : 3
            // Room must stay for a soft break's `=` unless nothing follows on this line.
            if length + width > (isLast ? maxLine : maxLine - 1) {
                out.append(contentsOf: [0x3D, 0x0D, 0x0A])
                length = 0
            }
            if literal {
                out.append(byte)
            } else {
                out.append(contentsOf: [0x3D, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            }
            length += width
        }
    }

    /// An upper bound of the encoded size of `text`, computed without encoding it.
    static func encodedLengthBound(of text: String) -> Int {
        var total = 0
        for byte in text.utf8 {
            total += isLiteral(byte) ? 1 : 3
        }
        return withSoftBreaks(total)
    }

    /// The encoded size of `count` bytes that all need escaping: the most any text of
    /// that length can take.
    static func worstEncodedLength(of count: Int) -> Int {
        withSoftBreaks(3 * count)
    }

    private static func withSoftBreaks(_ total: Int) -> Int {
        total + (total / (maxLine - 1) + 1) * 3 + 2
    }

    /// Printable ASCII other than `=` stands for itself.
    private static func isLiteral(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) && byte != 0x3D
    }
}

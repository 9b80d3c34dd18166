// Standard base64 (RFC 4648) for MIME: whole strings for encoded-words and
// SES's JSON, and 76-column CRLF lines for attachment bodies (RFC 2045).
//
// Written out here rather than taken from Foundation so that the renderer can
// stream bytes into one buffer without intermediate `Data` or `String` copies.

/// Base64 encoding of bytes.
public enum Base64 {
    private static let alphabet = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The number of characters that `encode` produces for `count` bytes.
    ///
    /// - Parameter count: The number of input bytes.
    /// - Returns: `4 * ceil(count / 3)`.
    public static func encodedLength(of count: Int) -> Int {
        (count + 2) / 3 * 4
    }

    /// Encodes bytes as one unbroken base64 string.
    ///
    /// - Parameter bytes: The bytes to encode.
    /// - Returns: The base64 text, padded with `=`.
    public static func encode<C: Collection<UInt8>>(_ bytes: C) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(encodedLength(of: bytes.count))
        append(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the base64 form of `bytes` to `out` in lines of at most `lineLength`
    /// characters, each ended by CRLF, the last one included.
    ///
    /// - Parameters:
    ///   - bytes: The bytes to encode.
    ///   - out: The buffer to append to.
    ///   - lineLength: The line length, a multiple of 4; MIME uses 76.
    public static func appendLines(_ bytes: [UInt8], to out: inout [UInt8], lineLength: Int = 76) {
        let chunk = lineLength / 4 * 3
        var start = 0
        while start < bytes.count {
            let end = min(start + chunk, bytes.count)
            append(bytes[start..<end], to: &out)
            out.append(contentsOf: [0x0D, 0x0A])
            start = end
        }
    }

    /// Appends the unbroken base64 form of `bytes` to `out`.
    static func append<C: Collection<UInt8>>(_ bytes: C, to out: inout [UInt8]) {
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let group = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            out.append(alphabet[Int(group >> 18 & 0x3F)])
            out.append(alphabet[Int(group >> 12 & 0x3F)])
            out.append(second == nil ? 0x3D : alphabet[Int(group >> 6 & 0x3F)])
            out.append(third == nil ? 0x3D : alphabet[Int(group & 0x3F)])
        }
    }
}

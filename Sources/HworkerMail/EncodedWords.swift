// RFC 2047 encoded-words for header text that is not plain ASCII.
//
// Always the `B` (base64) form with charset UTF-8: it is valid in every place
// an encoded-word may stand (unstructured text and display-name phrases),
// needs no escaping rules, and decoders everywhere support it. Each word is at
// most 75 characters and holds whole Unicode scalars, as the RFC requires;
// adjacent words are separated by a space, which decoders drop.

/// Encoding of header text as RFC 2047 encoded-words.
enum EncodedWords {
    /// 45 bytes give 60 base64 characters, and `=?UTF-8?B?` plus `?=` make 72 < 75.
    private static let maxPayloadBytes = 45

    /// Whether `text` must be encoded to appear in a header: any non-ASCII or control
    /// character other than tab.
    static func needsEncoding(_ text: String) -> Bool {
        text.unicodeScalars.contains { scalar in
            scalar.value > 0x7E || (scalar.value < 0x20 && scalar != "\t")
        }
    }

    /// Splits `text` into encoded-words of whole scalars.
    static func encode(_ text: String) -> [String] {
        var words: [String] = []
        var chunk: [UInt8] = []
        for scalar in text.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if chunk.count + bytes.count > maxPayloadBytes {
                words.append(word(chunk))
                chunk = []
            }
            chunk.append(contentsOf: bytes)
        }
        if !chunk.isEmpty || words.isEmpty { words.append(word(chunk)) }
        return words
    }

    private static func word(_ bytes: [UInt8]) -> String {
        "=?UTF-8?B?" + Base64.encode(bytes) + "?="
    }
}

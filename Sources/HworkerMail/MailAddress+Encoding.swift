// How an address is written into a header or an SES address field.
//
// SES requires the domain in ASCII (punycode) and a non-ASCII display name
// as RFC 2047 encoded-words; RFC 5322 requires a display name with special
// characters to be quoted. This is the one place that knows both.

extension MailAddress {
    /// The address ready for a header or an SES field, such as
    /// `=?UTF-8?B?SsO8cmdlbg==?= <j@xn--bcher-kva.example>` or `"Doe, John" <j@example.com>`.
    public var encoded: String {
        let spec = localPart + "@" + IDNA.asciiDomain(domain)
        guard let displayName, !displayName.isEmpty else { return spec }
        return "\(Self.encodedPhrase(displayName)) <\(spec)>"
    }

    /// A display name as atoms, a quoted string, or encoded-words.
    private static func encodedPhrase(_ name: String) -> String {
        if EncodedWords.needsEncoding(name) {
            return EncodedWords.encode(name).joined(separator: " ")
        }
        let atoms = name.split(separator: " ", omittingEmptySubsequences: false)
        let plain = atoms.allSatisfy { atom in !atom.isEmpty && atom.allSatisfy(isAtext) }
        return plain ? name : MIMEParameter.quoted(name)
    }
}

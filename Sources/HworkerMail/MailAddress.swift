// One email address as producers write it: `local@domain` or
// `Display Name <local@domain>`.
//
// Validation parses every address of a message with this type, and the MIME
// renderer and the SES client use `encoded` to put it into a header or an SES
// field. The accepted syntax is deliberately narrower than RFC 5322: no
// comments, no groups, no quoted local parts, no IP-literal domains. SES only
// accepts 7-bit local parts, so those are ASCII dot-atoms; the domain may be an
// internationalized name, which `encoded` converts to punycode.

/// An email address with an optional display name.
public struct MailAddress: Sendable, Equatable, CustomStringConvertible {
    /// The display name, unquoted and undecoded; `nil` for a bare address.
    public var displayName: String?

    /// The part before the `@`, an ASCII dot-atom.
    public var localPart: String

    /// The part after the `@`, ASCII or an internationalized domain name.
    public var domain: String

    /// Creates an address from its parts without checking them.
    ///
    /// - Parameters:
    ///   - displayName: The name shown to recipients, or `nil`.
    ///   - localPart: The part before the `@`.
    ///   - domain: The part after the `@`.
    public init(displayName: String? = nil, localPart: String, domain: String) {
        self.displayName = displayName
        self.localPart = localPart
        self.domain = domain
    }

    /// The bare address, `local@domain`, as written.
    public var addrSpec: String { "\(localPart)@\(domain)" }

    /// The address as a producer would write it.
    public var description: String {
        guard let displayName else { return addrSpec }
        return "\(displayName) <\(addrSpec)>"
    }
}

extension MailAddress {
    /// Why a string is not an acceptable address.
    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        /// The string is empty or only whitespace.
        case empty
        /// The string holds CR, LF, NUL or another control character.
        case controlCharacter
        /// A `<` or `>` without its partner, or text after the `>`.
        case unbalancedAngleBrackets
        /// A quoted display name without its closing quote.
        case unterminatedQuote
        /// Whitespace inside the `local@domain` part.
        case whitespace
        /// No `@` at all.
        case missingAt
        /// More than one `@`.
        case multipleAt
        /// Nothing before the `@`.
        case emptyLocalPart
        /// Nothing after the `@`.
        case emptyDomain
        /// A local part with characters outside 7-bit ASCII, which SES refuses.
        case nonASCIILocalPart
        /// A character that a dot-atom local part cannot hold.
        case invalidLocalPartCharacter(Character)
        /// A local part that starts or ends with a dot or has two in a row.
        case misplacedDot
        /// A character that a domain name cannot hold.
        case invalidDomainCharacter(Character)
        /// An empty label, as in `a..b` or a leading or trailing dot.
        case emptyDomainLabel
        /// A label that starts or ends with a hyphen.
        case hyphenAtLabelEdge
        /// A domain with a single label, such as `localhost`.
        case domainWithoutDot
        /// A label over 63 or a domain over 253 ASCII characters.
        case domainTooLong

        /// A short human explanation, such as `empty domain`.
        public var description: String {
            switch self {
            case .empty: "empty address"
            case .controlCharacter: "contains a line break or control character"
            case .unbalancedAngleBrackets: "unbalanced < and >"
            case .unterminatedQuote: "unterminated quoted display name"
            case .whitespace: "whitespace inside the address"
            case .missingAt: "no @"
            case .multipleAt: "more than one @"
            case .emptyLocalPart: "empty local part"
            case .emptyDomain: "empty domain"
            case .nonASCIILocalPart: "local part is not 7-bit ASCII (SES refuses it)"
            case .invalidLocalPartCharacter(let c):
                "character \(String(reflecting: String(c))) not allowed in the local part"
            case .misplacedDot: "local part starts or ends with a dot or has two in a row"
            case .invalidDomainCharacter(let c):
                "character \(String(reflecting: String(c))) not allowed in the domain"
            case .emptyDomainLabel: "empty label in the domain"
            case .hyphenAtLabelEdge: "domain label starts or ends with a hyphen"
            case .domainWithoutDot: "domain has no dot"
            case .domainTooLong: "domain or one of its labels is too long"
            }
        }
    }
}

extension MailAddress {
    /// Parses `local@domain` or `Display Name <local@domain>`.
    ///
    /// The display name may be quoted (`"Doe, John" <j@example.com>`, with `\"` and `\\`
    /// escapes) and may hold any Unicode text except control characters.
    ///
    /// - Parameter text: The address as a producer wrote it.
    /// - Throws: `MailAddress.Problem` naming the first thing wrong.
    public init(parsing text: String) throws(Problem) {
        // Most addresses are plain ASCII `local@domain`: check those byte by
        // byte; everything else takes the full path below.
        if let (local, domain) = Self.plainASCIISpec(text) {
            self.init(displayName: nil, localPart: local, domain: domain)
            return
        }
        if text.unicodeScalars.contains(where: Self.isControl) { throw .controlCharacter }
        let trimmed = Self.trimmed(Substring(text))
        if trimmed.isEmpty { throw .empty }

        var name: String?
        var spec = trimmed
        if trimmed.last == ">" {
            (name, spec) = try Self.splitNameAndSpec(trimmed)
        } else if trimmed.contains("<") || trimmed.contains(">") {
            throw .unbalancedAngleBrackets
        }

        let (local, domain) = try Self.splitSpec(spec)
        try Self.checkLocalPart(local)
        try Self.checkDomain(domain)
        self.init(displayName: name, localPart: String(local), domain: String(domain))
    }

    /// The local part and domain of a plain ASCII `local@domain` that passes every rule
    /// of the full parser, or nil when the text needs the full parser (or is invalid).
    static func plainASCIISpec(_ text: String) -> (String, String)? {
        let bytes = text.utf8
        guard let at = bytes.firstIndex(of: 0x40) else { return nil }
        let local = bytes[..<at]
        let domain = bytes[bytes.index(after: at)...]
        guard (1...64).contains(local.count), (3...253).contains(domain.count),
            local.first != 0x2E, local.last != 0x2E
        else { return nil }
        var previous: UInt8 = 0
        for byte in local {
            guard byte == 0x2E ? previous != 0x2E : isAtextByte(byte) else { return nil }
            previous = byte
        }
        var labelLength = 0
        var labels = 1
        previous = 0x2E
        for byte in domain {
            if byte == 0x2E {
                guard labelLength > 0, previous != 0x2D else { return nil }
                labels += 1
                labelLength = 0
            } else {
                let alphanumeric =
                    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
                    || (byte >= 0x61 && byte <= 0x7A)
                guard alphanumeric || (byte == 0x2D && previous != 0x2E) else { return nil }
                labelLength += 1
                guard labelLength <= 63 else { return nil }
            }
            previous = byte
        }
        guard labels >= 2, labelLength > 0, previous != 0x2D else { return nil }
        return (String(decoding: local, as: UTF8.self), String(decoding: domain, as: UTF8.self))
    }

    private static func isAtextByte(_ byte: UInt8) -> Bool {
        if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
            || (byte >= 0x61 && byte <= 0x7A)
        {
            return true
        }
        return "!#$%&'*+-/=?^_`{|}~".utf8.contains(byte)
    }

    /// Splits `Name <spec>` into the unquoted name (or `nil`) and the spec.
    private static func splitNameAndSpec(
        _ text: Substring
    ) throws(Problem) -> (String?, Substring) {
        var name = ""
        var index = text.startIndex
        if text.first == "\"" {
            (name, index) = try unquote(text)
            while index < text.endIndex, text[index] == " " || text[index] == "\t" {
                index = text.index(after: index)
            }
            guard index < text.endIndex, text[index] == "<" else {
                throw .unbalancedAngleBrackets
            }
        } else {
            guard let open = text.firstIndex(of: "<") else { throw .unbalancedAngleBrackets }
            name = String(trimmed(text[..<open]))
            index = open
        }

        let spec = text[text.index(after: index)..<text.index(before: text.endIndex)]
        if spec.contains("<") || spec.contains(">") { throw .unbalancedAngleBrackets }
        return (name.isEmpty ? nil : name, spec)
    }

    /// Reads a quoted string at the start of `text`; returns its content and the index after it.
    private static func unquote(
        _ text: Substring
    ) throws(Problem) -> (String, Substring.Index) {
        var result = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let c = text[index]
            if c == "\"" { return (result, text.index(after: index)) }
            if c == "\\" {
                index = text.index(after: index)
                guard index < text.endIndex else { break }
            }
            result.append(text[index])
            index = text.index(after: index)
        }
        throw .unterminatedQuote
    }

    /// Splits `local@domain` at its only `@`.
    private static func splitSpec(
        _ spec: Substring
    ) throws(Problem) -> (Substring, Substring) {
        if spec.contains(where: \.isWhitespace) { throw .whitespace }
        let parts = spec.split(separator: "@", omittingEmptySubsequences: false)
        if parts.count < 2 { throw .missingAt }
        if parts.count > 2 { throw .multipleAt }
        if parts[0].isEmpty { throw .emptyLocalPart }
        if parts[1].isEmpty { throw .emptyDomain }
        return (parts[0], parts[1])
    }

    private static func checkLocalPart(_ local: Substring) throws(Problem) {
        for c in local {
            guard c.isASCII else { throw .nonASCIILocalPart }
            guard c == "." || isAtext(c) else { throw .invalidLocalPartCharacter(c) }
        }
        if local.first == "." || local.last == "." || local.contains("..") {
            throw .misplacedDot
        }
    }

    private static func checkDomain(_ domain: Substring) throws(Problem) {
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            if label.isEmpty { throw .emptyDomainLabel }
            for c in label where !isDomainCharacter(c) { throw .invalidDomainCharacter(c) }
            if label.first == "-" || label.last == "-" { throw .hyphenAtLabelEdge }
        }
        if labels.count < 2 { throw .domainWithoutDot }

        let ascii = IDNA.asciiDomain(String(domain))
        let tooLongLabel = ascii.split(separator: ".").contains { $0.utf8.count > 63 }
        if tooLongLabel || ascii.utf8.count > 253 { throw .domainTooLong }
    }

    /// RFC 5322 `atext`: letters, digits and ``!#$%&'*+-/=?^_`{|}~``.
    static func isAtext(_ c: Character) -> Bool {
        guard let ascii = c.asciiValue else { return false }
        if c.isLetter || c.isNumber { return true }
        return "!#$%&'*+-/=?^_`{|}~".utf8.contains(ascii)
    }

    /// ASCII letters, digits and hyphens, or non-ASCII letters, digits and marks (IDN).
    private static func isDomainCharacter(_ c: Character) -> Bool {
        if c.isASCII { return c.isLetter || c.isNumber || c == "-" }
        return c.unicodeScalars.allSatisfy { scalar in
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter,
                .otherLetter, .decimalNumber, .nonspacingMark, .spacingMark, .enclosingMark:
                true
            default:
                false
            }
        }
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7F
    }

    private static func trimmed(_ text: Substring) -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isSpace($0) }),
            let last = text.lastIndex(where: { !isSpace($0) })
        else { return text[text.endIndex...] }
        return text[first...last]
    }
}

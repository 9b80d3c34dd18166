// Renders an EmailMessage into a complete RFC 5322 / MIME message.
//
// Workers call this for messages that SES cannot take as Simple content
// (attachments or extra headers). The output uses CRLF everywhere and has the
// shape
//
//     multipart/mixed                 only with attachments
//       multipart/alternative         only with both text and html
//         text/plain; charset=utf-8   quoted-printable
//         text/html; charset=utf-8    quoted-printable
//       attachment ...                base64, 76-column lines
//
// Header text that is not ASCII becomes RFC 2047 encoded-words, domains become
// punycode, and long headers are folded. Bcc never appears in the output: SES
// takes those recipients from the request. Boundaries are random and cannot
// occur inside quoted-printable or base64 content. Date and Message-ID are
// optional: SES adds a Message-ID of its own.
//
// The renderer trusts that the message passed validation; it never fails, and
// an address it cannot parse is written as given minus control characters.

import FoundationEssentials

/// Turns messages into MIME bytes.
public struct MIMERenderer: Sendable {
    /// The `Date:` header to write, or `nil` to leave it out; ignored when the
    /// message has a `Date` header of its own.
    public var date: Date?

    /// When set, a `Message-ID: <random@domain>` header is written, unless the message
    /// has one of its own.
    public var messageIDDomain: String?

    /// Creates a renderer.
    ///
    /// - Parameters:
    ///   - date: The `Date:` header value, or `nil` for none.
    ///   - messageIDDomain: The domain for a generated `Message-ID`, or `nil` for none.
    public init(date: Date? = nil, messageIDDomain: String? = nil) {
        self.date = date
        self.messageIDDomain = messageIDDomain
    }

    /// Renders `message`; a message with `raw` set is returned unchanged.
    ///
    /// - Parameter message: A message that passed `validated(defaultFrom:)`.
    /// - Returns: The complete message, headers and body, with CRLF line endings.
    public func render(_ message: EmailMessage) -> [UInt8] {
        if let raw = message.raw { return raw }

        var headers = HeaderBlock()
        appendEnvelopeHeaders(message, to: &headers)
        for header in message.headers {
            headers.appendText(header.name, header.value)
        }
        headers.append("MIME-Version", tokens: ["1.0"])

        let content = Self.content(of: message)
        var out = content.headers(after: headers)
        out.append(contentsOf: content.body)
        // A single part keeps its own final line break; transports need one at the end.
        if out.suffix(2) != [0x0D, 0x0A] { out.append(contentsOf: [0x0D, 0x0A]) }
        return out
    }

    /// Date, From, Reply-To, To, Cc, Subject and Message-ID.
    private func appendEnvelopeHeaders(_ message: EmailMessage, to headers: inout HeaderBlock) {
        if let date, !message.hasHeader("Date") {
            let words = RFC5322Date.format(date).split(separator: " ").map(String.init)
            headers.append("Date", tokens: words)
        }
        if let from = message.from {
            headers.appendAddresses("From", [Self.encodedAddress(from)])
        }
        let lists = [("Reply-To", message.replyTo), ("To", message.to), ("Cc", message.cc)]
        for (name, list) in lists where !list.isEmpty {
            headers.appendAddresses(name, list.map(Self.encodedAddress))
        }
        if let subject = message.subject {
            headers.appendText("Subject", subject)
        }
        if let messageIDDomain, !message.hasHeader("Message-ID") {
            headers.append("Message-ID", tokens: ["<\(Self.randomHex(16))@\(messageIDDomain)>"])
        }
    }

    /// An address in header form, or the text as given if it does not parse.
    private static func encodedAddress(_ text: String) -> String {
        if let address = try? MailAddress(parsing: text) { return address.encoded }
        return String(text.unicodeScalars.filter { !MailAddress.isControl($0) })
    }

    static func randomHex(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        return String((0..<bytes * 2).map { _ in digits[Int(generator.next() % 16)] })
    }
}

extension EmailMessage {
    /// Whether an extra header with this name (case-insensitive) is present.
    func hasHeader(_ name: String) -> Bool {
        headers.contains { $0.name.lowercased() == name.lowercased() }
    }
}

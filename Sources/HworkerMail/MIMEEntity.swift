// The body tree of a rendered message: single parts and multiparts.
//
// Each entity knows its Content-* headers and its encoded body. A multipart's
// body is its parts between `--boundary` lines; the CRLF before each boundary
// line belongs to the boundary (RFC 2046 section 5.1.1), so a part's content
// comes back exactly as encoded.

/// One MIME entity, ready to be written.
struct MIMEEntity {
    /// The media type, such as `text/plain`.
    var contentType: String
    /// Content-Type parameters in `name=value` form.
    var parameters: [String] = []
    /// `quoted-printable` or `base64`; `nil` for a multipart.
    var transferEncoding: String?
    /// `attachment` with its parameters, for attached files.
    var disposition: (value: String, parameters: [String])?
    /// The encoded body, without a final line break.
    var body: [UInt8]

    /// Appends this entity's Content-* headers to `block` and ends the header block.
    func headers(after block: HeaderBlock) -> [UInt8] {
        var block = block
        block.appendParameters("Content-Type", contentType, parameters)
        if let transferEncoding {
            block.append("Content-Transfer-Encoding", tokens: [transferEncoding])
        }
        if let disposition {
            block.appendParameters("Content-Disposition", disposition.value, disposition.parameters)
        }
        return block.finish()
    }

    /// A text part in UTF-8, quoted-printable.
    static func text(_ text: String, subtype: String) -> MIMEEntity {
        var body: [UInt8] = []
        QuotedPrintable.append(text, to: &body)
        return MIMEEntity(
            contentType: "text/\(subtype)", parameters: ["charset=utf-8"],
            transferEncoding: "quoted-printable", body: body)
    }

    /// An attached file, base64.
    static func attachment(_ attachment: EmailMessage.Attachment) -> MIMEEntity {
        var body: [UInt8] = []
        Base64.appendLines(attachment.data, to: &body)
        if body.suffix(2) == [0x0D, 0x0A] { body.removeLast(2) }

        // The type may carry parameters of its own (`text/csv; charset=utf-8`).
        let typeParts = attachment.contentType.split(separator: ";", maxSplits: 1)
        var parameters: [String] = []
        if typeParts.count > 1 {
            parameters.append(String(typeParts[1].trimmingSpaces))
        }
        parameters += MIMEParameter.format("name", attachment.filename)
        return MIMEEntity(
            contentType: String(typeParts.first ?? "application/octet-stream").trimmingSpaces,
            parameters: parameters, transferEncoding: "base64",
            disposition: ("attachment", MIMEParameter.format("filename", attachment.filename)),
            body: body)
    }

    /// A multipart of `subtype` holding `parts`, with a fresh random boundary.
    static func multipart(_ subtype: String, _ parts: [MIMEEntity]) -> MIMEEntity {
        // `=_` can occur neither in base64 nor in quoted-printable output.
        let boundary = "=_hw_" + MIMERenderer.randomHex(12)
        var body: [UInt8] = []
        for part in parts {
            body.append(contentsOf: Array("--\(boundary)\r\n".utf8))
            body.append(contentsOf: part.headers(after: HeaderBlock()))
            body.append(contentsOf: part.body)
            body.append(contentsOf: [0x0D, 0x0A])
        }
        body.append(contentsOf: Array("--\(boundary)--".utf8))
        return MIMEEntity(
            contentType: "multipart/\(subtype)",
            parameters: ["boundary=" + MIMEParameter.quoted(boundary)], body: body)
    }
}

extension MIMERenderer {
    /// The body tree for a message without `raw`.
    static func content(of message: EmailMessage) -> MIMEEntity {
        var alternatives: [MIMEEntity] = []
        if let text = message.text { alternatives.append(.text(text, subtype: "plain")) }
        if let html = message.html { alternatives.append(.text(html, subtype: "html")) }

        let main: MIMEEntity
        switch alternatives.count {
        case 0: main = .text("", subtype: "plain")
        case 1: main = alternatives[0]
        default: main = .multipart("alternative", alternatives)
        }

        if message.attachments.isEmpty { return main }
        return .multipart("mixed", [main] + message.attachments.map(MIMEEntity.attachment))
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }),
            let last = lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[first...last])
    }
}

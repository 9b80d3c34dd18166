// The rules a message must meet before it is enqueued and before it is sent.
//
// Producers call `validated(defaultFrom:)` before enqueueing so that a bad
// message is refused at the source with a reason; workers call it again
// before sending, so that nothing reaches SES that SES (or a recipient's
// parser) would misread. Checks run in field order and the first failure is
// thrown.
//
// Decisions worth knowing:
// - A rendered message (subject plus text and/or html) takes `from` from the
//   default when it has none. A raw message does not: its own From header is
//   what recipients see, and a From header is required in it.
// - A raw message may name no recipients; SES then takes them from its To, Cc
//   and Bcc headers, which are counted instead.
// - Extra headers may not be ones the renderer writes from the message fields
//   (From, To, Cc, Bcc, Reply-To, Subject, MIME-Version and the Content-*
//   headers). Date and Message-ID are allowed: the renderer then leaves out
//   its own. SES may still replace a Message-ID with its own.
// - The size limit is SES v2's 40 MB, taken as 40,000,000 bytes to be safe.

extension EmailMessage {
    /// The most recipients (To, Cc and Bcc together) SES accepts in one message.
    public static let maximumRecipients = 50

    /// The largest message, rendered or raw, that SES v2 accepts, in bytes.
    public static let maximumMessageBytes = 40_000_000

    /// The longest SES tag name or value.
    public static let maximumTagLength = 256

    /// The longest extra header name, so that `Name: ` fits on a 78-column line.
    public static let maximumHeaderNameLength = 76

    /// The longest SES configuration set name.
    public static let maximumConfigurationSetLength = 64

    /// Extra header names (lower case) that the renderer owns.
    public static let reservedHeaderNames: Set<String> = [
        "from", "to", "cc", "bcc", "reply-to", "subject", "mime-version", "content-type",
        "content-transfer-encoding", "content-disposition",
    ]

    /// The number of recipients SES will count for this message.
    ///
    /// To, Cc and Bcc together; for a raw message that names none, the addresses in
    /// its To, Cc and Bcc headers.
    public var recipientCount: Int {
        let explicit = to.count + cc.count + bcc.count
        guard explicit == 0, let raw else { return explicit }
        return RawMessageHeaders(raw).recipientCount
    }

    /// Checks every rule and returns the message with `from` filled in.
    ///
    /// - Parameter defaultFrom: The sender for a rendered message that names none.
    /// - Returns: The message, with `from` set to `defaultFrom` if it was `nil` (rendered
    ///   messages only).
    /// - Throws: `EmailValidationError` for the first field that breaks a rule.
    public func validated(defaultFrom: String?) throws(EmailValidationError) -> EmailMessage {
        var message = self
        if message.raw == nil && message.from == nil {
            message.from = defaultFrom
        }
        try message.checkAddresses()
        try message.checkRecipientCount()
        if let raw = message.raw {
            try message.checkRaw(raw)
        } else {
            try message.checkRendered()
        }
        try message.checkConfigurationSet()
        try message.checkTags()
        try message.checkSize()
        return message
    }
}

extension EmailMessage {
    private func checkAddresses() throws(EmailValidationError) {
        if let from {
            try Self.checkAddress(from, list: "from", index: nil)
        } else if raw == nil {
            throw EmailValidationError(field: "from", reason: .missing)
        }
        try Self.checkAddresses(to, list: "to")
        try Self.checkAddresses(cc, list: "cc")
        try Self.checkAddresses(bcc, list: "bcc")
        try Self.checkAddresses(replyTo, list: "reply_to")
    }

    private static func checkAddresses(_ addresses: [String], list: String)
        throws(EmailValidationError)
    {
        for (index, address) in addresses.enumerated() {
            try checkAddress(address, list: list, index: index)
        }
    }

    /// The field path (`to[2]`) is built only for an error: this runs for every address
    /// of every job enqueued.
    private static func checkAddress(_ text: String, list: String, index: Int?)
        throws(EmailValidationError)
    {
        do {
            _ = try MailAddress(parsing: text)
        } catch {
            let field = index.map { "\(list)[\($0)]" } ?? list
            throw EmailValidationError(field: field, reason: .invalidAddress(text, error))
        }
    }

    private func checkRecipientCount() throws(EmailValidationError) {
        let count = recipientCount
        if count == 0 {
            throw EmailValidationError(field: "to+cc+bcc", reason: .noRecipients)
        }
        if count > Self.maximumRecipients {
            throw EmailValidationError(
                field: "to+cc+bcc",
                reason: .tooManyRecipients(count: count, limit: Self.maximumRecipients))
        }
    }

    private func checkRaw(_ raw: [UInt8]) throws(EmailValidationError) {
        if raw.isEmpty { throw EmailValidationError(field: "raw", reason: .empty) }
        let excluded = [
            ("subject", subject != nil), ("text", text != nil), ("html", html != nil),
            ("headers", !headers.isEmpty), ("attachments", !attachments.isEmpty),
        ]
        for (field, present) in excluded where present {
            throw EmailValidationError(field: field, reason: .notAllowedWithRaw)
        }
        if !RawMessageHeaders(raw).contains("from") {
            throw EmailValidationError(field: "raw", reason: .rawWithoutFrom)
        }
    }

    private func checkRendered() throws(EmailValidationError) {
        guard let subject else { throw EmailValidationError(field: "subject", reason: .missing) }
        try Self.checkHeaderText(subject, field: "subject")
        if subject.trimmingSpaces.isEmpty {
            throw EmailValidationError(field: "subject", reason: .empty)
        }
        if (text ?? "").isEmpty && (html ?? "").isEmpty {
            throw EmailValidationError(field: "text", reason: .missingBody)
        }
        for (index, header) in headers.enumerated() {
            try Self.checkHeader(header, field: "headers[\(index)]")
        }
        for (index, attachment) in attachments.enumerated() {
            try Self.checkAttachment(attachment, field: "attachments[\(index)]")
        }
    }

    private static func checkHeader(
        _ header: Header, field: String
    ) throws(EmailValidationError) {
        let name = header.name
        try checkHeaderText(name, field: "\(field).name")
        if name.isEmpty { throw EmailValidationError(field: "\(field).name", reason: .empty) }
        if name.count > maximumHeaderNameLength {
            throw EmailValidationError(
                field: "\(field).name",
                reason: .tooLong(length: name.count, limit: maximumHeaderNameLength))
        }
        // RFC 5322 field-name: printable ASCII except the colon.
        if let bad = name.first(where: { !($0.isASCII && $0 != ":" && $0 > " " && $0 < "\u{7F}") })
        {
            throw EmailValidationError(field: "\(field).name", reason: .invalidCharacter(bad))
        }
        if reservedHeaderNames.contains(name.lowercased()) {
            throw EmailValidationError(field: "\(field).name", reason: .reservedHeader(name))
        }
        try checkHeaderText(header.value, field: "\(field).value")
    }

    private static func checkAttachment(
        _ attachment: Attachment, field: String
    ) throws(EmailValidationError) {
        let name = attachment.filename
        try checkHeaderText(name, field: "\(field).filename")
        if name.isEmpty { throw EmailValidationError(field: "\(field).filename", reason: .empty) }
        if let bad = name.first(where: { $0.unicodeScalars.contains(where: MailAddress.isControl) })
        {
            throw EmailValidationError(field: "\(field).filename", reason: .invalidCharacter(bad))
        }
        if name.count > 255 {
            throw EmailValidationError(
                field: "\(field).filename", reason: .tooLong(length: name.count, limit: 255))
        }

        let type = attachment.contentType
        try checkHeaderText(type, field: "\(field).content_type")
        let mediaType = type.split(separator: ";", maxSplits: 1).first ?? ""
        let parts = mediaType.trimmingSpaces.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy(MIMEParameter.isToken) else {
            throw EmailValidationError(field: "\(field).content_type", reason: .invalidContentType)
        }
    }

    /// Rejects CR, LF and NUL, which would end a header line early.
    private static func checkHeaderText(
        _ text: String, field: String
    ) throws(EmailValidationError) {
        if text.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
            throw EmailValidationError(field: field, reason: .lineBreak)
        }
    }

    private func checkConfigurationSet() throws(EmailValidationError) {
        guard let configurationSet else { return }
        try Self.checkName(
            configurationSet, field: "configuration_set", extra: "_-",
            limit: Self.maximumConfigurationSetLength)
    }

    private func checkTags() throws(EmailValidationError) {
        for (index, tag) in tags.enumerated() {
            for (part, value) in [("name", tag.name), ("value", tag.value)] {
                try Self.checkName(
                    value, field: "tags[\(index)].\(part)", extra: "_-.@",
                    limit: Self.maximumTagLength)
            }
        }
    }

    /// A non-empty string of ASCII letters, digits and the `extra` characters.
    private static func checkName(
        _ text: String, field: String, extra: String, limit: Int
    ) throws(EmailValidationError) {
        try checkHeaderText(text, field: field)
        if text.isEmpty { throw EmailValidationError(field: field, reason: .empty) }
        let allowed: (Character) -> Bool = { c in
            c.isASCII && (c.isLetter || c.isNumber || extra.contains(c))
        }
        if let bad = text.first(where: { !allowed($0) }) {
            throw EmailValidationError(field: field, reason: .invalidCharacter(bad))
        }
        if text.count > limit {
            throw EmailValidationError(
                field: field, reason: .tooLong(length: text.count, limit: limit))
        }
    }

    private func checkSize() throws(EmailValidationError) {
        // Most messages are far below the limit even if every byte needed escaping.
        if MIMERenderer.estimatedSize(of: self, quickly: true) <= Self.maximumMessageBytes {
            return
        }
        let size = MIMERenderer.estimatedSize(of: self)
        if size > Self.maximumMessageBytes {
            throw EmailValidationError(
                field: raw == nil ? "message" : "raw",
                reason: .tooLarge(estimatedBytes: size, limit: Self.maximumMessageBytes))
        }
    }
}

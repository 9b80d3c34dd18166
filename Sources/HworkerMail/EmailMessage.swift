// The email a job carries: who it is from and to, and what it says.
//
// This type is shared by the producers (the library and the CLI, which
// validate it before enqueueing), the queue (which stores it as JSON) and the
// workers (which render it for SES). Its JSON form is the documented wire
// format; keys are snake_case and every list may be omitted.

/// One email to send through SES.
///
/// Either `raw` holds a complete MIME message, or `subject` with `text` and/or
/// `html` (plus optional `attachments` and `headers`) describe one that the
/// worker renders. Recipients count against SES's limit of 50 per message.
public struct EmailMessage: Sendable, Equatable {
    /// The sender, `addr@example.com` or `Display Name <addr@example.com>`;
    /// `nil` means the daemon's configured default.
    public var from: String?

    /// The primary recipients.
    public var to: [String]

    /// The carbon-copy recipients.
    public var cc: [String]

    /// The blind-copy recipients; they never appear in the message headers.
    public var bcc: [String]

    /// Addresses that replies should go to.
    public var replyTo: [String]

    /// The subject line; UTF-8 is allowed.
    public var subject: String?

    /// The plain-text body.
    public var text: String?

    /// The HTML body.
    public var html: String?

    /// Extra headers added to the rendered message.
    public var headers: [Header]

    /// Files attached to the rendered message.
    public var attachments: [Attachment]

    /// A complete MIME message sent as is; excludes subject, bodies,
    /// headers and attachments.
    public var raw: [UInt8]?

    /// The SES configuration set to send with.
    public var configurationSet: String?

    /// SES message tags, for event publishing and metrics.
    public var tags: [Tag]

    /// Creates a message; every field is optional so that callers set only what they need.
    public init(
        from: String? = nil, to: [String] = [], cc: [String] = [], bcc: [String] = [],
        replyTo: [String] = [], subject: String? = nil, text: String? = nil,
        html: String? = nil, headers: [Header] = [], attachments: [Attachment] = [],
        raw: [UInt8]? = nil, configurationSet: String? = nil, tags: [Tag] = []
    ) {
        self.from = from
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.replyTo = replyTo
        self.subject = subject
        self.text = text
        self.html = html
        self.headers = headers
        self.attachments = attachments
        self.raw = raw
        self.configurationSet = configurationSet
        self.tags = tags
    }

    /// Every recipient, To then Cc then Bcc.
    public var recipients: [String] { to + cc + bcc }
}

extension EmailMessage {
    /// One extra message header.
    public struct Header: Sendable, Equatable, Codable {
        /// The header name, such as `List-Unsubscribe`.
        public var name: String
        /// The header value; UTF-8 is encoded when the message is rendered.
        public var value: String

        /// Creates a header.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// One attached file.
    public struct Attachment: Sendable, Equatable {
        /// The file name shown to the recipient.
        public var filename: String
        /// The MIME type, such as `application/pdf`.
        public var contentType: String
        /// The file's bytes.
        public var data: [UInt8]

        /// Creates an attachment.
        public init(
            filename: String, contentType: String = "application/octet-stream", data: [UInt8]
        ) {
            self.filename = filename
            self.contentType = contentType
            self.data = data
        }
    }

    /// One SES message tag.
    public struct Tag: Sendable, Equatable, Codable {
        /// The tag name.
        public var name: String
        /// The tag value.
        public var value: String

        /// Creates a tag.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }
}

// The JSON wire form of an email: snake_case keys, lists optional, binary
// content (attachments, raw MIME) as standard base64 strings.

import FoundationEssentials

extension EmailMessage: Codable {
    enum CodingKeys: String, CodingKey {
        case from, to, cc, bcc, subject, text, html, headers, attachments, raw, tags
        case replyTo = "reply_to"
        case configurationSet = "configuration_set"
    }

    /// Decodes a message from its wire form; absent lists become empty.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        from = try c.decodeIfPresent(String.self, forKey: .from)
        to = try c.decodeIfPresent([String].self, forKey: .to) ?? []
        cc = try c.decodeIfPresent([String].self, forKey: .cc) ?? []
        bcc = try c.decodeIfPresent([String].self, forKey: .bcc) ?? []
        replyTo = try c.decodeIfPresent([String].self, forKey: .replyTo) ?? []
        subject = try c.decodeIfPresent(String.self, forKey: .subject)
        text = try c.decodeIfPresent(String.self, forKey: .text)
        html = try c.decodeIfPresent(String.self, forKey: .html)
        headers = try c.decodeIfPresent([Header].self, forKey: .headers) ?? []
        attachments = try c.decodeIfPresent([Attachment].self, forKey: .attachments) ?? []
        raw = try c.decodeIfPresent(Base64Bytes.self, forKey: .raw)?.bytes
        configurationSet = try c.decodeIfPresent(String.self, forKey: .configurationSet)
        tags = try c.decodeIfPresent([Tag].self, forKey: .tags) ?? []
    }

    /// Encodes the message in its wire form, leaving out empty lists and absent fields.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(from, forKey: .from)
        try encodeList(to, .to, into: &c)
        try encodeList(cc, .cc, into: &c)
        try encodeList(bcc, .bcc, into: &c)
        try encodeList(replyTo, .replyTo, into: &c)
        try c.encodeIfPresent(subject, forKey: .subject)
        try c.encodeIfPresent(text, forKey: .text)
        try c.encodeIfPresent(html, forKey: .html)
        try encodeList(headers, .headers, into: &c)
        try encodeList(attachments, .attachments, into: &c)
        try c.encodeIfPresent(raw.map(Base64Bytes.init), forKey: .raw)
        try c.encodeIfPresent(configurationSet, forKey: .configurationSet)
        try encodeList(tags, .tags, into: &c)
    }

    private func encodeList<T: Encodable>(
        _ list: [T], _ key: CodingKeys, into c: inout KeyedEncodingContainer<CodingKeys>
    ) throws {
        if !list.isEmpty { try c.encode(list, forKey: key) }
    }
}

extension EmailMessage.Attachment: Codable {
    enum CodingKeys: String, CodingKey {
        case filename, data
        case contentType = "content_type"
    }

    /// Decodes an attachment; `content_type` defaults to `application/octet-stream`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        filename = try c.decode(String.self, forKey: .filename)
        contentType =
            try c.decodeIfPresent(String.self, forKey: .contentType) ?? "application/octet-stream"
        data = try c.decode(Base64Bytes.self, forKey: .data).bytes
    }

    /// Encodes an attachment with its bytes in base64.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(filename, forKey: .filename)
        try c.encode(contentType, forKey: .contentType)
        try c.encode(Base64Bytes(bytes: data), forKey: .data)
    }
}

/// Bytes that travel in JSON as a standard base64 string.
struct Base64Bytes: Codable {
    var bytes: [UInt8]

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let data = Data(base64Encoded: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not valid base64"))
        }
        bytes = [UInt8](data)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(Data(bytes).base64EncodedString())
    }
}

// The JSON body of SES v2 SendEmail, built from a validated message.
//
// Simple content (SES renders the message) is used when there is nothing SES
// cannot express: no attachments and no extra headers. Otherwise the message
// is rendered here and sent as Raw. A producer's raw message goes as Raw
// untouched. Addresses go in their encoded form (RFC 2047 display names,
// punycode domains), which SES requires.
//
// Destination carries To, Cc and Bcc: for rendered Raw messages it must,
// since Bcc is not in the headers; for a producer's raw message it is set
// only when the job names recipients, so that SES otherwise reads them from
// the message's headers. ReplyToAddresses only accompanies Simple content;
// rendered messages carry Reply-To in their headers.

import HworkerMail

/// `POST /v2/email/outbound-emails` request body.
struct SendEmailBody: Equatable {
    struct Destination: Equatable {
        var toAddresses: [String]?
        var ccAddresses: [String]?
        var bccAddresses: [String]?
    }

    struct Text: Equatable {
        var data: String
        var charset = "UTF-8"
    }

    struct Body: Equatable {
        var text: Text?
        var html: Text?
    }

    struct Simple: Equatable {
        var subject: Text
        var body: Body
    }

    struct Raw: Equatable {
        /// The MIME message in base64.
        var data: String
    }

    struct Content: Equatable {
        var simple: Simple?
        var raw: Raw?
    }

    struct Tag: Equatable {
        var name: String
        var value: String
    }

    var fromEmailAddress: String?
    var destination: Destination?
    var replyToAddresses: [String]?
    var content: Content
    var emailTags: [Tag]?
    var configurationSetName: String?
}

extension SendEmailBody {
    /// Whether SES can take `message` as Simple content.
    static func usesSimpleContent(_ message: EmailMessage) -> Bool {
        message.raw == nil && message.attachments.isEmpty && message.headers.isEmpty
    }

    /// The body for a validated message; `renderer` builds Raw content when needed.
    init(_ message: EmailMessage, renderer: MIMERenderer) {
        let encode = { (list: [String]) -> [String]? in
            list.isEmpty ? nil : list.map(Self.encodedAddress)
        }
        fromEmailAddress = message.from.map(Self.encodedAddress)
        destination = Destination(
            toAddresses: encode(message.to), ccAddresses: encode(message.cc),
            bccAddresses: encode(message.bcc))
        if destination == Destination() { destination = nil }

        if Self.usesSimpleContent(message) {
            replyToAddresses = encode(message.replyTo)
            let body = Body(
                text: message.text.map { Text(data: $0) }, html: message.html.map { Text(data: $0) }
            )
            content = Content(
                simple: Simple(subject: Text(data: message.subject ?? ""), body: body))
        } else {
            content = Content(raw: Raw(data: Base64.encode(renderer.render(message))))
        }

        let tags = message.tags.map { Tag(name: $0.name, value: $0.value) }
        emailTags = tags.isEmpty ? nil : tags
        configurationSetName = message.configurationSet
    }

    /// The encoded form of an address; validation has already parsed it.
    private static func encodedAddress(_ text: String) -> String {
        (try? MailAddress(parsing: text))?.encoded ?? text
    }
}

extension SendEmailBody {
    /// The request body: JSON with SES's member names, absent parts left out.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512 + (content.raw?.data.utf8.count ?? 0))
        var object = JSONObjectWriter(&out)
        object.member("FromEmailAddress", fromEmailAddress, &out)
        if let destination {
            object.key("Destination", &out)
            var inner = JSONObjectWriter(&out)
            inner.member("ToAddresses", destination.toAddresses ?? [], &out)
            inner.member("CcAddresses", destination.ccAddresses ?? [], &out)
            inner.member("BccAddresses", destination.bccAddresses ?? [], &out)
            inner.finish(&out)
        }
        object.member("ReplyToAddresses", replyToAddresses ?? [], &out)
        object.key("Content", &out)
        var contentObject = JSONObjectWriter(&out)
        if let simple = content.simple {
            contentObject.key("Simple", &out)
            var simpleObject = JSONObjectWriter(&out)
            simpleObject.key("Subject", &out)
            Self.append(simple.subject, to: &out)
            simpleObject.key("Body", &out)
            var body = JSONObjectWriter(&out)
            if let text = simple.body.text {
                body.key("Text", &out)
                Self.append(text, to: &out)
            }
            if let html = simple.body.html {
                body.key("Html", &out)
                Self.append(html, to: &out)
            }
            body.finish(&out)
            simpleObject.finish(&out)
        }
        if let raw = content.raw {
            contentObject.key("Raw", &out)
            var rawObject = JSONObjectWriter(&out)
            rawObject.member("Data", raw.data, &out)
            rawObject.finish(&out)
        }
        contentObject.finish(&out)
        object.objects("EmailTags", emailTags ?? [], &out) { tag, inner, out in
            inner.member("Name", tag.name, &out)
            inner.member("Value", tag.value, &out)
        }
        object.member("ConfigurationSetName", configurationSetName, &out)
        object.finish(&out)
        return out
    }

    private static func append(_ text: Text, to out: inout [UInt8]) {
        var object = JSONObjectWriter(&out)
        object.member("Data", text.data, &out)
        object.member("Charset", text.charset, &out)
        object.finish(&out)
    }
}

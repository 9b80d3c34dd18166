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
struct SendEmailBody: Encodable, Equatable {
    struct Destination: Encodable, Equatable {
        var toAddresses: [String]?
        var ccAddresses: [String]?
        var bccAddresses: [String]?

        enum CodingKeys: String, CodingKey {
            case toAddresses = "ToAddresses"
            case ccAddresses = "CcAddresses"
            case bccAddresses = "BccAddresses"
        }
    }

    struct Text: Encodable, Equatable {
        var data: String
        var charset = "UTF-8"

        enum CodingKeys: String, CodingKey {
            case data = "Data"
            case charset = "Charset"
        }
    }

    struct Body: Encodable, Equatable {
        var text: Text?
        var html: Text?

        enum CodingKeys: String, CodingKey {
            case text = "Text"
            case html = "Html"
        }
    }

    struct Simple: Encodable, Equatable {
        var subject: Text
        var body: Body

        enum CodingKeys: String, CodingKey {
            case subject = "Subject"
            case body = "Body"
        }
    }

    struct Raw: Encodable, Equatable {
        /// The MIME message in base64.
        var data: String

        enum CodingKeys: String, CodingKey {
            case data = "Data"
        }
    }

    struct Content: Encodable, Equatable {
        var simple: Simple?
        var raw: Raw?

        enum CodingKeys: String, CodingKey {
            case simple = "Simple"
            case raw = "Raw"
        }
    }

    struct Tag: Encodable, Equatable {
        var name: String
        var value: String

        enum CodingKeys: String, CodingKey {
            case name = "Name"
            case value = "Value"
        }
    }

    var fromEmailAddress: String?
    var destination: Destination?
    var replyToAddresses: [String]?
    var content: Content
    var emailTags: [Tag]?
    var configurationSetName: String?

    enum CodingKeys: String, CodingKey {
        case fromEmailAddress = "FromEmailAddress"
        case destination = "Destination"
        case replyToAddresses = "ReplyToAddresses"
        case content = "Content"
        case emailTags = "EmailTags"
        case configurationSetName = "ConfigurationSetName"
    }
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

import Foundation
import HworkerMail
import Testing

@Suite struct ValidationTests {
    /// A message that passes; each test breaks one thing.
    static let good = EmailMessage(
        from: "Sender <sender@example.com>", to: ["a@example.com"], subject: "Hello",
        text: "Hi there")

    private func reason(
        _ message: EmailMessage, defaultFrom: String? = nil
    ) -> EmailValidationError? {
        do {
            _ = try message.validated(defaultFrom: defaultFrom)
            return nil
        } catch {
            return error
        }
    }

    @Test func goodMessagePassesUnchanged() throws {
        #expect(try Self.good.validated(defaultFrom: "other@example.com") == Self.good)
    }

    @Test func validatedMessageKeepsItsJSONWireForm() throws {
        let json = Data(
            #"{"to":["a@example.com"],"subject":"Hi","text":"t","tags":[{"name":"n","value":"v"}]}"#
                .utf8)
        let message = try JSONDecoder().decode(EmailMessage.self, from: json)
        let checked = try message.validated(defaultFrom: "d@example.com")
        let again = try JSONDecoder().decode(
            EmailMessage.self, from: try JSONEncoder().encode(checked))
        #expect(again == checked)
        #expect(again.from == "d@example.com")
    }

    @Test func missingFromIsTakenFromTheDefault() throws {
        var message = Self.good
        message.from = nil
        let checked = try message.validated(defaultFrom: "Default <d@example.com>")
        #expect(checked.from == "Default <d@example.com>")
    }

    @Test func missingFromWithoutDefaultIsRefused() {
        var message = Self.good
        message.from = nil
        #expect(reason(message)?.description == "from: is required")
    }

    @Test func badRecipientIsNamedByIndex() {
        var message = Self.good
        message.to = ["a@example.com", "b@example.com", "c@example.com", "bob@"]
        let error = reason(message)
        #expect(error?.field == "to[3]")
        #expect(error?.description == "to[3]: invalid address \"bob@\": empty domain")
    }

    @Test(arguments: ["cc", "bcc", "reply_to"])
    func everyAddressListIsChecked(list: String) {
        var message = Self.good
        switch list {
        case "cc": message.cc = ["x@example.com", "nope"]
        case "bcc": message.bcc = ["x@example.com", "nope"]
        default: message.replyTo = ["x@example.com", "nope"]
        }
        #expect(reason(message)?.field == "\(list)[1]")
    }

    @Test func injectedRecipientHeaderIsRefused() {
        var message = Self.good
        message.to = ["a@example.com\r\nBcc: victim@example.net"]
        #expect(reason(message)?.reason == .invalidAddress(message.to[0], .controlCharacter))
    }

    @Test func recipientsAreCountedAcrossToCcBcc() throws {
        var message = Self.good
        message.to = (0..<20).map { "to\($0)@example.com" }
        message.cc = (0..<20).map { "cc\($0)@example.com" }
        message.bcc = (0..<10).map { "bcc\($0)@example.com" }
        #expect(message.recipientCount == 50)
        _ = try message.validated(defaultFrom: nil)

        message.bcc.append("one-too-many@example.com")
        #expect(reason(message)?.reason == .tooManyRecipients(count: 51, limit: 50))
    }

    @Test func messageWithoutRecipientsIsRefused() {
        var message = Self.good
        message.to = []
        #expect(reason(message)?.reason == .noRecipients)
    }

    @Test func subjectAndBodyAreRequiredForRenderedMessages() {
        var message = Self.good
        message.subject = nil
        #expect(reason(message)?.description == "subject: is required")
        message.subject = "  "
        #expect(reason(message)?.description == "subject: must not be empty")
        message.subject = "ok"
        message.text = nil
        #expect(reason(message)?.description == "text: text or html is required")
        message.html = "<p>hi</p>"
        #expect(reason(message) == nil)
    }

    @Test(arguments: ["Hi\r\nBcc: x@example.net", "Hi\nthere", "Hi\0"])
    func lineBreakInSubjectIsHeaderInjection(subject: String) {
        var message = Self.good
        message.subject = subject
        #expect(reason(message) == EmailValidationError(field: "subject", reason: .lineBreak))
    }

    @Test func extraHeadersAreChecked() {
        var message = Self.good
        message.headers = [
            .init(name: "X-Ok", value: "fine"), .init(name: "X-Bad", value: "a\r\nb"),
        ]
        #expect(reason(message)?.description.hasPrefix("headers[1].value: contains CR") == true)

        message.headers = [.init(name: "X Bad", value: "v")]
        #expect(reason(message) == .init(field: "headers[0].name", reason: .invalidCharacter(" ")))
        message.headers = [.init(name: "X-Bad:", value: "v")]
        #expect(reason(message)?.reason == .invalidCharacter(":"))
        message.headers = [.init(name: "", value: "v")]
        #expect(reason(message)?.reason == .empty)
        message.headers = [.init(name: String(repeating: "X", count: 77), value: "v")]
        #expect(reason(message)?.reason == .tooLong(length: 77, limit: 76))
        message.headers = [.init(name: "Ünicode", value: "v")]
        #expect(reason(message)?.reason == .invalidCharacter("Ü"))
    }

    @Test(arguments: [
        "From", "to", "CC", "Bcc", "Reply-To", "Subject", "MIME-Version", "Content-Type",
        "Content-Transfer-Encoding", "Content-Disposition",
    ])
    func headersTheRendererOwnsAreRefused(name: String) {
        var message = Self.good
        message.headers = [.init(name: name, value: "x")]
        #expect(reason(message)?.reason == .reservedHeader(name))
    }

    @Test(arguments: ["Date", "Message-ID", "List-Unsubscribe", "X-Campaign"])
    func otherHeadersAreAllowed(name: String) throws {
        var message = Self.good
        message.headers = [.init(name: name, value: "value ünicode")]
        _ = try message.validated(defaultFrom: nil)
    }

    @Test func attachmentFieldsAreChecked() {
        var message = Self.good
        message.attachments = [.init(filename: "a\r\n.pdf", data: [1])]
        #expect(reason(message)?.description.hasPrefix("attachments[0].filename: contains") == true)
        message.attachments = [.init(filename: "", data: [1])]
        #expect(reason(message)?.field == "attachments[0].filename")
        message.attachments = [.init(filename: "a.pdf", contentType: "pdf", data: [1])]
        #expect(
            reason(message)
                == .init(field: "attachments[0].content_type", reason: .invalidContentType))
        message.attachments = [
            .init(filename: "a.pdf", contentType: "application/pdf\nX-Evil: 1", data: [1])
        ]
        #expect(reason(message)?.reason == .lineBreak)
        message.attachments = [
            .init(filename: "Grüße €.csv", contentType: "text/csv; charset=utf-8", data: [1])
        ]
        #expect(reason(message) == nil)
    }

    @Test func rawMessageStandsAlone() throws {
        let raw = Array(
            "From: a@example.com\r\nTo: b@example.com, c@example.com\r\n\r\nhi\r\n".utf8)
        let message = EmailMessage(raw: raw)
        let checked = try message.validated(defaultFrom: "default@example.com")
        #expect(checked.from == nil)
        #expect(checked.recipientCount == 2)

        var withSubject = message
        withSubject.subject = "x"
        #expect(reason(withSubject) == .init(field: "subject", reason: .notAllowedWithRaw))
        var withAttachment = message
        withAttachment.attachments = [.init(filename: "a", data: [])]
        #expect(reason(withAttachment)?.field == "attachments")
    }

    @Test func rawMessageNeedsFromAndRecipients() {
        let noFrom = EmailMessage(raw: Array("To: b@example.com\r\n\r\nhi".utf8))
        #expect(reason(noFrom)?.reason == .rawWithoutFrom)
        let noRecipients = EmailMessage(raw: Array("From: a@example.com\r\n\r\nhi".utf8))
        #expect(reason(noRecipients)?.reason == .noRecipients)
        let empty = EmailMessage(to: ["b@example.com"], raw: [])
        #expect(reason(empty) == .init(field: "raw", reason: .empty))
    }

    @Test func rawRecipientCountReadsFoldedHeadersAndSkipsQuotes() {
        let raw = Array(
            ("From: a@example.com\r\nTo: \"x@y\" <b@example.com>,\r\n c@example.com\r\n"
                + "Cc: (comment@x) d@example.com\r\nBCC: e@example.com\r\n\r\nTo: f@example.com")
                .utf8)
        #expect(EmailMessage(raw: raw).recipientCount == 4)
        #expect(EmailMessage(to: ["z@example.com"], raw: raw).recipientCount == 1)
    }

    @Test func configurationSetAndTagsFollowSESRules() {
        var message = Self.good
        message.configurationSet = "my_set-1"
        message.tags = [.init(name: "campaign", value: "spring-2025.v1@a_b")]
        #expect(reason(message) == nil)

        message.configurationSet = "my set"
        #expect(
            reason(message) == .init(field: "configuration_set", reason: .invalidCharacter(" ")))
        message.configurationSet = String(repeating: "a", count: 65)
        #expect(reason(message)?.reason == .tooLong(length: 65, limit: 64))
        message.configurationSet = nil

        message.tags = [.init(name: "ok", value: "bad/value")]
        #expect(reason(message) == .init(field: "tags[0].value", reason: .invalidCharacter("/")))
        message.tags = [.init(name: String(repeating: "n", count: 257), value: "v")]
        #expect(reason(message)?.reason == .tooLong(length: 257, limit: 256))
        message.tags = [.init(name: "", value: "v")]
        #expect(reason(message) == .init(field: "tags[0].name", reason: .empty))
        message.tags = [.init(name: "n", value: "é")]
        #expect(reason(message)?.reason == .invalidCharacter("é"))
    }

    @Test func oversizedAttachmentsAreRefusedBeforeEncoding() {
        var message = Self.good
        // 30 MB grows past 40 MB in base64.
        message.attachments = [
            .init(filename: "big.bin", data: [UInt8](repeating: 7, count: 30_000_000))
        ]
        let error = reason(message)
        #expect(error?.field == "message")
        if case .tooLarge(let size, let limit) = error?.reason {
            #expect(size > 40_000_000)
            #expect(limit == 40_000_000)
        } else {
            Issue.record("expected tooLarge, got \(String(describing: error))")
        }

        message.attachments = [
            .init(filename: "ok.bin", data: [UInt8](repeating: 7, count: 29_000_000))
        ]
        #expect(reason(message) == nil)
    }

    @Test func oversizedRawIsRefused() {
        var raw = Array("From: a@example.com\r\nTo: b@example.com\r\n\r\n".utf8)
        raw += [UInt8](repeating: 0x41, count: 40_000_001)
        #expect(reason(EmailMessage(raw: raw))?.field == "raw")
    }
}

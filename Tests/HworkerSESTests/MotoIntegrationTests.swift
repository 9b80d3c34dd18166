import Foundation
import HworkerMail
import HworkerSES
import HworkerTestSupport
import Testing

/// The SES client against moto with signature checking on. Each test starts its own
/// moto_server (or uses HWORKER_TEST_MOTO_URL) and prepares a key with scripts/moto-setup.py.
@Suite struct MotoIntegrationTests {
    static let usesExternalServer =
        ProcessInfo.processInfo.environment["HWORKER_TEST_MOTO_URL"] != nil

    @Test func simpleMessagesAreStoredWithTheirFields() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let client = try moto.client()
        let marker = UUID().uuidString

        let plain = try client.send(
            EmailMessage(
                from: MotoServer.sender, to: ["one@example.com"], subject: "Plain \(marker)",
                text: "Hello"))
        let rich = try client.send(
            EmailMessage(
                from: "Jürgen Groß <\(MotoServer.sender)>", to: ["to@example.com"],
                cc: ["Ça Va <cc@example.com>"], bcc: ["bcc@example.com"],
                replyTo: ["reply@example.com"], subject: "Grüße 😀 \(marker)",
                text: "Grüße", html: "<p>Grüße — 日本語</p>"))
        #expect(plain.messageId != rich.messageId)

        let first = try #require(try moto.record("Message", id: plain.messageId))
        #expect(first["source"] as? String == MotoServer.sender)
        #expect(first["subject"] as? String == "Plain \(marker)")
        #expect(first["body"] as? String == "Hello")
        #expect(
            (first["destinations"] as? [String: [String]])?["ToAddresses"] == ["one@example.com"])

        let second = try #require(try moto.record("Message", id: rich.messageId))
        #expect(
            second["source"] as? String == "=?UTF-8?B?SsO8cmdlbiBHcm/Dnw==?= <\(MotoServer.sender)>"
        )
        #expect(second["subject"] as? String == "Grüße 😀 \(marker)")
        #expect(second["body"] as? String == "<p>Grüße — 日本語</p>")
        let destinations = try #require(second["destinations"] as? [String: [String]])
        #expect(destinations["ToAddresses"] == ["to@example.com"])
        #expect(destinations["CcAddresses"] == ["=?UTF-8?B?w4dhIFZh?= <cc@example.com>"])
        #expect(destinations["BccAddresses"] == ["bcc@example.com"])
    }

    @Test func renderedAndProducersRawMessagesAreStored() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let client = try moto.client()
        let attachment = (0..<5000).map { UInt8($0 % 256) }
        let rendered = try client.send(
            EmailMessage(
                from: "Sender <\(MotoServer.sender)>", to: ["to@example.com"],
                bcc: ["hidden@example.com"], subject: "Report für Mai", text: "Attached.",
                html: "<p>Attached.</p>", headers: [.init(name: "X-Job-Id", value: "job-7")],
                attachments: [
                    .init(
                        filename: "Übersicht.bin", contentType: "application/octet-stream",
                        data: attachment)
                ]))
        let record = try #require(try moto.record("RawMessage", id: rendered.messageId))
        #expect(
            Set(record["destinations"] as? [String] ?? []) == [
                "to@example.com", "hidden@example.com",
            ])
        #expect(record["source"] as? String == "Sender <\(MotoServer.sender)>")

        let rawData = try #require(record["raw_data"] as? String)
        let parsed = try PythonScript.run("mime-parse.py", input: Array(rawData.utf8))
        let message = try #require(
            try JSONSerialization.jsonObject(with: Data(parsed)) as? [String: Any])
        #expect(message["subject"] as? String == "Report für Mai")
        #expect(message["bcc"] is NSNull)
        #expect(message["defects"] as? [String] == [])
        let files = try #require(message["attachments"] as? [[String: String]])
        #expect(files.first?["filename"] == "Übersicht.bin")
        #expect(files.first?["data"] == Data(attachment).base64EncodedString())

        let raw =
            "From: \(MotoServer.sender)\r\nTo: raw-to@example.com\r\nSubject: Raw\r\n"
            + "\r\nRaw body\r\n"
        let producer = try client.send(EmailMessage(raw: Array(raw.utf8)))
        let stored = try #require(try moto.record("RawMessage", id: producer.messageId))
        #expect(stored["raw_data"] as? String == raw)
        #expect(stored["destinations"] as? [String] == ["raw-to@example.com"])
    }

    @Test(.enabled(if: !usesExternalServer, "an external server may not check signatures"))
    func wrongSecretIsACredentialsError() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        var wrong = moto.credentials
        wrong.secretAccessKey = String(wrong.secretAccessKey.reversed())
        let error = #expect(throws: SESError.self) {
            try moto.client(credentials: wrong).send(
                EmailMessage(
                    from: MotoServer.sender, to: ["a@example.com"], subject: "s", text: "t"))
        }
        #expect(error?.classification == .credentials)
        #expect(error?.status == 403)
        #expect(error?.description.contains(wrong.secretAccessKey) == false)

        var unknown = moto.credentials
        unknown.accessKeyId = "AKIAUNKNOWNUNKNOWN00"
        let unknownError = #expect(throws: SESError.self) {
            try moto.client(credentials: unknown).getSendQuota()
        }
        #expect(unknownError?.classification == .credentials)
    }

    @Test func unverifiedSenderIsRejectedPermanently() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let error = #expect(throws: SESError.self) {
            try moto.client().send(
                EmailMessage(
                    from: "stranger@elsewhere.example", to: ["a@example.com"], subject: "s",
                    text: "t"))
        }
        #expect(error?.code == "MessageRejected")
        #expect(error?.classification == .permanent)
        #expect(error?.status == 400)
    }

    @Test func sendQuotaIsReadOverTheV1API() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let client = try moto.client()
        let quota = try client.getSendQuota()
        #expect(quota.max24HourSend == 200)
        #expect(quota.maxSendRate == 1)
        #expect(quota.sentLast24Hours >= 0)

        // moto does not implement v2 GetAccount: the answer is an error, classified by status.
        let error = #expect(throws: SESError.self) { try client.getAccount() }
        #expect(error?.classification == .permanent || error?.classification == .transient)
    }
}

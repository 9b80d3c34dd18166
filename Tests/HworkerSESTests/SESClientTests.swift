import Foundation
import HworkerMail
import HworkerSES
import Testing

/// The SES client against the stub server, which answers like SES would.
@Suite struct SESClientTests {
    static let credentials = AWSCredentials(
        accessKeyId: "AKIASTUBSTUBSTUBSTUB",
        secretAccessKey: "stub/secret+KEY0123456789abcdefghijklmno")
    static let fixedDate = Date(timeIntervalSince1970: 1_750_000_000)

    static func client(_ stub: StubServer, credentials: AWSCredentials = credentials) throws
        -> SESClient
    {
        try SESClient(
            configuration: .init(
                region: "eu-west-1", credentials: credentials, endpoint: stub.url,
                requestTimeout: .seconds(10)),
            now: { fixedDate })
    }

    static func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func simpleMessageIsSignedAndShapedForSESv2() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let message = EmailMessage(
            from: "Jürgen <j@example.com>", to: ["a@example.com"], cc: ["C <c@bücher.example>"],
            bcc: ["b@example.com"], replyTo: ["r@example.com"], subject: "Grüße 😀",
            text: "plain", html: "<b>html</b>", configurationSet: "set-1",
            tags: [.init(name: "campaign", value: "spring")])
        let sent = try Self.client(stub).send(message)
        #expect(sent.messageId == "stub-message-id")

        let request = try #require(try stub.requests().first)
        #expect(request.method == "POST")
        #expect(request.path == "/v2/email/outbound-emails")
        let port = try #require(stub.url.split(separator: ":").last)
        #expect(request.header("Host") == ["127.0.0.1:\(port)"])
        #expect(request.header("Content-Type") == ["application/json"])
        #expect(request.header("X-Amz-Date") == ["20250615T150640Z"])
        #expect(request.header("Expect") == [])
        #expect(request.header("Content-Length") == ["\(request.bodyBytes.count)"])

        // The recorded request verifies against an independent signing of what arrived.
        let resigned = SigV4Signer(credentials: Self.credentials, region: "eu-west-1").sign(
            method: "POST", host: "127.0.0.1:\(port)", path: request.path,
            headers: [HTTPHeader("Content-Type", "application/json")], body: request.bodyBytes,
            date: Self.fixedDate)
        #expect(request.header("Authorization") == [resigned.value(for: "Authorization") ?? ""])
        #expect(
            request.header("Authorization").first?.contains("/eu-west-1/ses/aws4_request") == true)

        let body = try Self.json(request.bodyBytes)
        #expect(body["FromEmailAddress"] as? String == "=?UTF-8?B?SsO8cmdlbg==?= <j@example.com>")
        let destination = try #require(body["Destination"] as? [String: [String]])
        #expect(destination["ToAddresses"] == ["a@example.com"])
        #expect(destination["CcAddresses"] == ["C <c@xn--bcher-kva.example>"])
        #expect(destination["BccAddresses"] == ["b@example.com"])
        #expect(body["ReplyToAddresses"] as? [String] == ["r@example.com"])
        #expect(body["ConfigurationSetName"] as? String == "set-1")
        #expect(
            body["EmailTags"] as? [[String: String]] == [["Name": "campaign", "Value": "spring"]])
        let simple = try #require((body["Content"] as? [String: Any])?["Simple"] as? [String: Any])
        let subject = simple["Subject"] as? [String: String]
        #expect(subject == ["Data": "Grüße 😀", "Charset": "UTF-8"])
        let parts = try #require(simple["Body"] as? [String: [String: String]])
        #expect(parts["Text"] == ["Data": "plain", "Charset": "UTF-8"])
        #expect(parts["Html"] == ["Data": "<b>html</b>", "Charset": "UTF-8"])
    }

    @Test func attachmentsOrHeadersMakeARenderedRawMessage() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let message = EmailMessage(
            from: "s@example.com", to: ["a@example.com"], bcc: ["hidden@example.com"],
            replyTo: ["r@example.com"], subject: "With file", text: "see attached",
            headers: [.init(name: "X-Job", value: "42")],
            attachments: [
                .init(filename: "ä.txt", contentType: "text/plain", data: Array("hi".utf8))
            ])
        _ = try Self.client(stub).send(message)

        let body = try Self.json(try #require(try stub.requests().first).bodyBytes)
        #expect(body["ReplyToAddresses"] == nil)
        #expect(body["FromEmailAddress"] as? String == "s@example.com")
        let destination = try #require(body["Destination"] as? [String: [String]])
        #expect(destination["BccAddresses"] == ["hidden@example.com"])
        let raw = try #require(
            ((body["Content"] as? [String: Any])?["Raw"] as? [String: String])?["Data"])
        let mime = try #require(Data(base64Encoded: raw))
        let text = String(decoding: mime, as: UTF8.self)
        #expect(text.contains("Reply-To: r@example.com\r\n"))
        #expect(text.contains("X-Job: 42\r\n"))
        #expect(text.contains("Date: "))
        #expect(!text.contains("hidden@example.com"))
        #expect(text.contains("filename*=utf-8''%C3%A4.txt"))
    }

    @Test func producersRawMessageGoesUnchangedWithoutDestination() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let raw = Array(
            "From: s@example.com\r\nTo: a@example.com\r\nSubject: raw\r\n\r\nbody\r\n".utf8)
        _ = try Self.client(stub).send(EmailMessage(raw: raw))
        _ = try Self.client(stub).send(EmailMessage(to: ["override@example.com"], raw: raw))

        let requests = try stub.requests()
        let first = try Self.json(requests[0].bodyBytes)
        #expect(first["Destination"] == nil)
        #expect(first["FromEmailAddress"] == nil)
        let content = try #require(first["Content"] as? [String: [String: String]])
        #expect(content["Raw"]?["Data"] == Data(raw).base64EncodedString())
        let second = try Self.json(requests[1].bodyBytes)
        #expect(
            (second["Destination"] as? [String: [String]])?["ToAddresses"] == [
                "override@example.com"
            ])
    }

    @Test func sessionTokenTravelsAndIsSigned() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let temporary = AWSCredentials(
            accessKeyId: "ASIATEMP", secretAccessKey: "s", sessionToken: "TOKEN123")
        _ = try Self.client(stub, credentials: temporary).getSendQuotaIgnoringErrors()
        let request = try #require(try stub.requests().first)
        #expect(request.header("X-Amz-Security-Token") == ["TOKEN123"])
        #expect(
            request.header("Authorization").first?.contains(
                "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token") == true)
    }

    @Test func invalidMessageIsRefusedWithoutARequest() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let error = #expect(throws: SESError.self) {
            try Self.client(stub).send(
                EmailMessage(from: "a@example.com", to: ["bob@"], subject: "s", text: "t"))
        }
        #expect(error?.classification == .permanent)
        guard case .invalidMessage(let reason) = error?.kind else {
            Issue.record("expected invalidMessage, got \(String(describing: error))")
            return
        }
        #expect(reason.field == "to[0]")
        #expect(try stub.requests().isEmpty)
    }

    @Test(
        arguments: [
            (
                429, [("x-amzn-ErrorType", "TooManyRequestsException")], #"{"message":"Too many"}"#,
                "TooManyRequestsException", SESError.Classification.throttled
            ),
            (
                400, [], #"{"__type":"Throttling","message":"Daily message quota exceeded."}"#,
                "Throttling", .dailyQuotaExceeded
            ),
            (
                400, [("x-amzn-ErrorType", "AccountSuspendedException:http://x/")], "{}",
                "AccountSuspendedException", .paused
            ),
            (
                403, [("x-amzn-ErrorType", "SignatureDoesNotMatch")], #"{"message":"no"}"#,
                "SignatureDoesNotMatch", .credentials
            ),
            (
                400, [("x-amzn-ErrorType", "MessageRejected")],
                #"{"message":"Email address is not verified."}"#,
                "MessageRejected", .permanent
            ),
            (500, [("x-amzn-ErrorType", "InternalFailure")], "{}", "InternalFailure", .transient),
            (503, [], "<html>Service Unavailable</html>", nil, .transient),
        ] as [(Int, [(String, String)], String, String?, SESError.Classification)])
    func sesAnswersAreClassified(
        status: Int, headers: [(String, String)], body: String, code: String?,
        expected: SESError.Classification
    ) throws {
        let stub = try StubServer()
        defer { stub.stop() }
        try stub.respond([(status, headers, body, 0)])
        let error = #expect(throws: SESError.self) {
            try Self.client(stub).send(
                EmailMessage(from: "a@example.com", to: ["b@example.com"], subject: "s", text: "t"))
        }
        #expect(error?.status == status)
        #expect(error?.code == code)
        #expect(error?.classification == expected)
        #expect(error?.operation == "SendEmail")
    }

    @Test func echoedSecretsAreScrubbedFromErrors() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let echo = "signed with \(Self.credentials.secretAccessKey)"
        try stub.respond([
            (403, [("x-amzn-ErrorType", "SignatureDoesNotMatch")], #"{"message":"\#(echo)"}"#, 0)
        ])
        let error = #expect(throws: SESError.self) {
            try Self.client(stub).send(
                EmailMessage(from: "a@example.com", to: ["b@example.com"], subject: "s", text: "t"))
        }
        #expect(error?.message == "signed with <redacted>")
        #expect(error?.description.contains(Self.credentials.secretAccessKey) == false)
    }

    @Test func echoedTokenIsScrubbedFromAnUnreadableSuccess() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let token = "FwoGZXIvYXdzSECRETTOKEN123456"
        try stub.respond([(200, [], #"{"x-amz-security-token": "\#(token)"}"#, 0)])
        let temporary = AWSCredentials(
            accessKeyId: "ASIATEMP", secretAccessKey: "s3cr3t-value", sessionToken: token)
        let error = #expect(throws: SESError.self) {
            try Self.client(stub, credentials: temporary).send(
                EmailMessage(from: "a@example.com", to: ["b@example.com"], subject: "s", text: "t"))
        }
        #expect(error?.kind == .malformedResponse(status: 200))
        #expect(error?.description.contains(token) == false)
        #expect(error?.description.contains("<redacted>") == true)
    }

    @Test func unreadableSuccessIsTransient() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        try stub.respond([(200, [], "not json", 0)])
        let error = #expect(throws: SESError.self) {
            try Self.client(stub).send(
                EmailMessage(from: "a@example.com", to: ["b@example.com"], subject: "s", text: "t"))
        }
        #expect(error?.kind == .malformedResponse(status: 200))
        #expect(error?.classification == .transient)
    }

    @Test func timeoutAndRefusalAreTransient() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        try stub.respond([(200, [], "{}", 3000)])
        let slow = try SESClient(
            configuration: .init(
                region: "us-east-1", credentials: Self.credentials, endpoint: stub.url,
                requestTimeout: .milliseconds(300)))
        let timeout = #expect(throws: SESError.self) { try slow.getAccount() }
        #expect(timeout?.kind == .transport(.timeout))
        #expect(timeout?.classification == .transient)

        let port = try #require(ChildProcess.freePort())
        let closed = try SESClient(
            configuration: .init(
                region: "us-east-1", credentials: Self.credentials,
                endpoint: "http://127.0.0.1:\(port)"))
        let refused = #expect(throws: SESError.self) { try closed.getSendQuota() }
        #expect(refused?.kind == .transport(.connect))
        #expect(refused?.classification == .transient)
    }

    @Test func accountAndQuotaAreRead() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let account = """
            {"SendQuota":{"Max24HourSend":50000.0,"MaxSendRate":14.0,"SentLast24Hours":12.0},
             "SendingEnabled":true,"ProductionAccessEnabled":true,"EnforcementStatus":"HEALTHY"}
            """
        let quota = """
            <GetSendQuotaResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/">
              <GetSendQuotaResult>
                <SentLast24Hours>3.0</SentLast24Hours>
                <Max24HourSend>-1.0</Max24HourSend>
                <MaxSendRate>1.0</MaxSendRate>
              </GetSendQuotaResult>
              <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
            </GetSendQuotaResponse>
            """
        try stub.respond([(200, [], account, 0), (200, [("Content-Type", "text/xml")], quota, 0)])
        let client = try Self.client(stub)

        let status = try client.getAccount()
        #expect(
            status.sendQuota
                == SendQuota(max24HourSend: 50000, maxSendRate: 14, sentLast24Hours: 12))
        #expect(status.sendingEnabled)
        #expect(status.productionAccessEnabled == true)

        let limits = try client.getSendQuota()
        #expect(limits == SendQuota(max24HourSend: -1, maxSendRate: 1, sentLast24Hours: 3))
        #expect(limits.isUnlimited)
        #expect(client.lastRequestReusedConnection)

        let requests = try stub.requests()
        #expect(requests[0].method == "GET" && requests[0].path == "/v2/email/account")
        #expect(requests[0].header("Content-Type") == [])
        #expect(
            requests[0].header("Authorization").first?.contains("SignedHeaders=host;x-amz-date,")
                == true)
        #expect(requests[1].method == "POST" && requests[1].path == "/")
        #expect(
            String(decoding: requests[1].bodyBytes, as: UTF8.self)
                == "Action=GetSendQuota&Version=2010-12-01")
    }

    @Test func v1ThrottlingFromGetSendQuotaIsClassified() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let xml =
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            + "<Message>Maximum sending rate exceeded.</Message></Error>"
            + "<RequestId>x1</RequestId></ErrorResponse>"
        try stub.respond([(400, [("Content-Type", "text/xml")], xml, 0)])
        let error = #expect(throws: SESError.self) { try Self.client(stub).getSendQuota() }
        #expect(error?.code == "Throttling")
        #expect(error?.requestId == "x1")
        #expect(error?.classification == .throttled)
    }

    @Test func credentialsCanBeReplacedBetweenCalls() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let client = try Self.client(stub)
        client.credentials = AWSCredentials(accessKeyId: "AKIANEWKEY", secretAccessKey: "new")
        _ = try client.send(
            EmailMessage(from: "a@example.com", to: ["b@example.com"], subject: "s", text: "t"))
        let request = try #require(try stub.requests().first)
        #expect(request.header("Authorization").first?.contains("Credential=AKIANEWKEY/") == true)
    }
}

extension SESClient {
    /// Makes one GetSendQuota request and ignores how it ends.
    fileprivate func getSendQuotaIgnoringErrors() {
        _ = try? getSendQuota()
    }
}

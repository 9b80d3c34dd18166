import HworkerSES
import Testing

@Suite struct SESErrorTests {
    typealias Class = SESError.Classification

    @Test(
        arguments: [
            (400, "Throttling", "Maximum sending rate exceeded.", Class.throttled),
            (400, "Throttling", "Daily message quota exceeded.", .dailyQuotaExceeded),
            (429, "TooManyRequestsException", "Too many requests", .throttled),
            (400, "ThrottlingException", "Rate exceeded", .throttled),
            (400, "MessageRejected", "Email address is not verified.", .permanent),
            (400, "MailFromDomainNotVerifiedException", "x", .permanent),
            (400, "ConfigurationSetDoesNotExist", "x", .permanent),
            (400, "InvalidParameterValue", "x", .permanent),
            (404, "NotFoundException", "x", .permanent),
            (400, "BadRequestException", "x", .permanent),
            (400, "AccountSendingPausedException", "x", .paused),
            (400, "SendingPausedException", "x", .paused),
            (400, "ConfigurationSetSendingPausedException", "x", .paused),
            (400, "AccountSuspendedException", "x", .paused),
            (
                403, "SignatureDoesNotMatch", "The request signature we calculated does not match",
                .credentials
            ),
            (
                403, "InvalidClientTokenId",
                "The security token included in the request is invalid.", .credentials
            ),
            (400, "IncompleteSignature", "x", .credentials),
            (403, "UnrecognizedClientException", "x", .credentials),
            (403, "AccessDenied", "User is not authorized", .credentials),
            (403, "AccessDeniedException", "x", .credentials),
            (400, "RequestExpired", "Request has expired.", .clock),
            (
                403, "InvalidSignatureException",
                "Signature expired: 20150830T123600Z is now earlier than", .clock
            ),
            (500, "InternalFailure", "x", .transient),
            (503, "ServiceUnavailable", "x", .transient),
            (400, "SomethingNew", "x", .permanent),
            (403, "SomethingNew", "x", .credentials),
            (429, "SomethingNew", "x", .throttled),
            (502, "SomethingNew", "x", .transient),
        ] as [(Int, String, String, Class)])
    func codesAreClassified(status: Int, code: String, message: String, expected: Class) {
        #expect(Class.classify(status: status, code: code, message: message) == expected)
    }

    @Test(
        arguments: [
            (nil, Class.transient), (429, .throttled), (401, .credentials), (403, .credentials),
            (500, .transient), (503, .transient), (400, .permanent), (404, .permanent),
        ] as [(Int?, Class)])
    func statusDecidesWithoutACode(status: Int?, expected: Class) {
        #expect(Class.classify(status: status, code: nil, message: "") == expected)
    }

    @Test func v2ErrorTakesTheCodeFromTheHeader() {
        let response = HTTPResponse(
            status: 400,
            headers: [
                HTTPHeader("x-amzn-ErrorType", "MessageRejected:http://internal.amazon.com/coral/"),
                HTTPHeader("x-amzn-RequestId", "req-1"),
            ],
            body: Array(#"{"message":"Email address is not verified."}"#.utf8))
        let error = SESError.fromResponse(response, operation: "SendEmail")
        #expect(error.code == "MessageRejected")
        #expect(error.message == "Email address is not verified.")
        #expect(error.requestId == "req-1")
        #expect(error.status == 400)
        #expect(error.kind == .service(status: 400))
        #expect(error.classification == .permanent)
        #expect(
            error.description
                == "SendEmail: HTTP 400 MessageRejected: Email address is not verified. "
                + "(request req-1) [permanent]")
    }

    @Test func v2ErrorFallsBackToTheJSONBody() {
        let json =
            #"{"__type":"com.amazonaws.ses#TooManyRequestsException","#
            + #""Message":"slow down"}"#
        let typed = SESError.fromResponse(
            HTTPResponse(status: 400, body: Array(json.utf8)), operation: "SendEmail")
        #expect(typed.code == "TooManyRequestsException")
        #expect(typed.message == "slow down")
        #expect(typed.classification == .throttled)

        let coded = SESError.fromResponse(
            HTTPResponse(
                status: 400,
                body: Array(#"{"code":"AccountSuspendedException","message":"m"}"#.utf8)),
            operation: "SendEmail")
        #expect(coded.code == "AccountSuspendedException")
        #expect(coded.classification == .paused)
    }

    @Test(arguments: [
        ("Maximum sending rate exceeded.", Class.throttled),
        ("Daily message quota exceeded.", .dailyQuotaExceeded),
    ])
    func v1ThrottlingIsToldApartByItsMessage(message: String, expected: Class) {
        let xml = """
            <ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/">
              <Error>
                <Type>Sender</Type>
                <Code>Throttling</Code>
                <Message>\(message)</Message>
              </Error>
              <RequestId>a1b2c3</RequestId>
            </ErrorResponse>
            """
        let error = SESError.fromResponse(
            HTTPResponse(
                status: 400, headers: [HTTPHeader("Content-Type", "text/xml")],
                body: Array(xml.utf8)),
            operation: "SendRawEmail")
        #expect(error.code == "Throttling")
        #expect(error.message == message)
        #expect(error.requestId == "a1b2c3")
        #expect(error.classification == expected)
    }

    @Test func v1XMLEntitiesAreDecoded() {
        let xml =
            "<ErrorResponse><Error><Code>MessageRejected</Code>"
            + "<Message>Address &lt;a@b.c&gt; &amp; "
            + "&#x263A; &quot;x&quot;</Message></Error></ErrorResponse>"
        let error = SESError.fromResponse(
            HTTPResponse(status: 400, body: Array(xml.utf8)), operation: "SendEmail")
        #expect(error.message == "Address <a@b.c> & ☺ \"x\"")
    }

    @Test func nonAWSAnswerKeepsAShortExcerpt() {
        let html = "<html>\n<body>\n<h1>502 Bad Gateway</h1>\n" + String(repeating: "x", count: 500)
        let error = SESError.fromResponse(
            HTTPResponse(status: 502, body: Array(html.utf8)), operation: "SendEmail")
        #expect(error.code == nil)
        #expect(error.message.hasPrefix("<html> <body> <h1>502 Bad Gateway</h1>"))
        #expect(error.message.count <= 201)
        #expect(error.classification == .transient)

        let empty = SESError.fromResponse(HTTPResponse(status: 404), operation: "GetAccount")
        #expect(empty.message == "HTTP 404")
        #expect(empty.classification == .permanent)
    }

    @Test func redactingRemovesSecretsFromMessages() {
        let error = SESError(
            operation: "SendEmail", kind: .service(status: 403), code: "SignatureDoesNotMatch",
            message: "secret S3CR3T and token T0K3N and S3CR3T again", classification: .credentials)
        let clean = error.redacting(["S3CR3T", "T0K3N", ""])
        #expect(clean.message == "secret <redacted> and token <redacted> and <redacted> again")
        #expect(!clean.description.contains("S3CR3T"))
    }
}

// Sends email through Amazon SES, and reads the account's sending limits.
//
// One client per worker process, used from one thread: it owns an HTTPClient
// (one kept-alive connection to SES) and is not
// Sendable. Every call validates or builds its request, signs it with SigV4
// at the moment of sending, and turns every failure into an SESError with a
// classification the worker acts on. The client never retries: retry, delay,
// pause and dead-letter decisions belong to the worker, which sees the whole
// queue. Credentials can be replaced between calls (the worker reloads them
// after a credentials error).
//
// Calls: SendEmail (v2 JSON), GetAccount (v2 JSON) and GetSendQuota (v1
// Query API, XML), the last two for the rate limiter and quota checks.

import FoundationEssentials
import HworkerMail

/// A client for the SES API.
public final class SESClient {
    /// The configuration the client was created with (credentials may since have changed).
    public let configuration: Configuration

    /// Where requests go.
    public let endpoint: SESEndpoint

    /// The key that signs the next request; replace it to reload credentials.
    public var credentials: AWSCredentials

    /// Whether the last request reused the connection of an earlier one.
    public var lastRequestReusedConnection: Bool { http.lastRequestReusedConnection }

    /// Whether the last request went twice because its kept connection broke before an
    /// answer (see `HTTPClient.lastRequestWasResent`).
    public var lastRequestWasResent: Bool { http.lastRequestWasResent }

    private let http: HTTPClient
    private let now: @Sendable () -> Date

    /// Creates a client; no request is made until the first call.
    ///
    /// - Parameters:
    ///   - configuration: Region, credentials, endpoint and timeouts.
    ///   - now: The clock used for signing; tests pass a fixed or skewed one.
    /// - Throws: `ConfigurationError` for an invalid region, endpoint or proxy.
    public init(
        configuration: Configuration, now: @escaping @Sendable () -> Date = { Date() }
    ) throws(ConfigurationError) {
        let region = configuration.region
        let regionIsValid = region.allSatisfy {
            $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-")
        }
        guard !region.isEmpty, regionIsValid else { throw .invalidRegion(region) }

        if let url = configuration.endpoint {
            endpoint = try SESEndpoint(parsing: url)
        } else {
            endpoint = .standard(region: region)
        }
        do {
            http = try HTTPClient(
                options: HTTPClient.Options(
                    connectTimeout: configuration.connectTimeout,
                    requestTimeout: configuration.requestTimeout, proxy: configuration.proxy,
                    userAgent: "hworker-ses/1"))
        } catch {
            throw .httpClient(error)
        }
        self.configuration = configuration
        self.credentials = configuration.credentials
        self.now = now
    }

    /// Sends one message with SES v2 SendEmail.
    ///
    /// The message is validated first (with no default sender: the caller fills that in).
    /// It goes as Simple content when it has no attachments and no extra headers, else it
    /// is rendered and sent as Raw; a raw message goes as Raw unchanged.
    ///
    /// - Parameters:
    ///   - message: The message.
    ///   - validate: Whether to validate it; pass false only for a message that
    ///     `validated(defaultFrom:)` returned, as the daemon's workers do.
    /// - Returns: SES's message id.
    /// - Throws: `SESError`; `.invalidMessage` (classified permanent) when validation fails,
    ///   without contacting SES.
    public func send(_ message: EmailMessage, validate: Bool = true) throws(SESError) -> SentMessage
    {
        let operation = "SendEmail"
        let valid: EmailMessage
        do {
            valid = validate ? try message.validated(defaultFrom: nil) : message
        } catch {
            throw SESError(
                operation: operation, kind: .invalidMessage(error), message: error.description,
                classification: .permanent)
        }

        let body = SendEmailBody(valid, renderer: MIMERenderer(date: now())).encoded()
        let response = try call(
            operation, method: "POST", path: "/v2/email/outbound-emails",
            contentType: "application/json", body: body)

        guard let messageID = Self.messageID(in: response.body), !messageID.isEmpty else {
            throw scrubbed(
                SESError.malformed(response, operation: operation, expected: "a MessageId"))
        }
        return SentMessage(messageId: messageID)
    }

    /// Reads the account's status and limits with SES v2 GetAccount.
    ///
    /// - Returns: The quota and whether sending is enabled.
    /// - Throws: `SESError`.
    public func getAccount() throws(SESError) -> SESAccount {
        let operation = "GetAccount"
        let response = try call(
            operation, method: "GET", path: "/v2/email/account", contentType: nil, body: [])
        guard let answer = try? JSONDecoder().decode(AccountAnswer.self, from: Data(response.body))
        else {
            throw scrubbed(
                SESError.malformed(response, operation: operation, expected: "an account"))
        }
        return answer.account
    }

    /// Reads the sending limits with the SES v1 GetSendQuota action.
    ///
    /// - Returns: The quota.
    /// - Throws: `SESError`.
    public func getSendQuota() throws(SESError) -> SendQuota {
        let operation = "GetSendQuota"
        let response = try call(
            operation, method: "POST", path: "/",
            contentType: "application/x-www-form-urlencoded; charset=utf-8",
            body: Array("Action=GetSendQuota&Version=2010-12-01".utf8))

        let text = String(decoding: response.body, as: UTF8.self)
        let number = { (name: String) in XMLText.element(name, in: text).flatMap(Double.init) }
        guard let max = number("Max24HourSend"), let rate = number("MaxSendRate"),
            let sent = number("SentLast24Hours")
        else {
            throw scrubbed(
                SESError.malformed(response, operation: operation, expected: "a send quota"))
        }
        return SendQuota(max24HourSend: max, maxSendRate: rate, sentLast24Hours: sent)
    }
}

extension SESClient {
    /// Signs and sends one request; returns only 2xx answers.
    private func call(
        _ operation: String, method: String, path: String, contentType: String?, body: [UInt8]
    ) throws(SESError) -> HTTPResponse {
        let signedPath = endpoint.basePath + path
        let content = contentType.map { [HTTPHeader("Content-Type", $0)] } ?? []
        let signer = SigV4Signer(credentials: credentials, region: configuration.region)
        let authorization = signer.sign(
            method: method, host: endpoint.hostHeader, path: signedPath, headers: content,
            body: body, date: now())
        let request = HTTPRequest(
            method: method, url: endpoint.url(path: path),
            headers: [HTTPHeader("Host", endpoint.hostHeader)] + content + authorization
                + [HTTPHeader("Accept", "application/json")],
            body: body)

        let response: HTTPResponse
        do {
            response = try http.perform(request)
        } catch {
            throw scrubbed(
                SESError(
                    operation: operation, kind: .transport(error.kind), message: error.message,
                    classification: error.kind == .certificate ? .untrusted : .transient))
        }
        guard response.isSuccess else {
            throw scrubbed(SESError.fromResponse(response, operation: operation))
        }
        return response
    }

    /// The `MessageId` of a SendEmail answer.
    static func messageID(in body: [UInt8]) -> String? {
        struct Answer: Decodable {
            var messageId: String
            enum CodingKeys: String, CodingKey { case messageId = "MessageId" }
        }
        // SES answers a flat object of strings, which the small reader takes.
        if let members = JSONValue.parse(body)?.members {
            for case ("MessageId", .string(let id)) in members { return id }
        }
        return try? JSONDecoder().decode(Answer.self, from: Data(body)).messageId
    }

    /// The error without the secret key or session token, should SES ever echo them.
    private func scrubbed(_ error: SESError) -> SESError {
        error.redacting([credentials.secretAccessKey, credentials.sessionToken ?? ""])
    }
}

/// The parts of the GetAccount answer the daemon uses.
private struct AccountAnswer: Decodable {
    struct Quota: Decodable {
        var max24HourSend: Double
        var maxSendRate: Double
        var sentLast24Hours: Double

        enum CodingKeys: String, CodingKey {
            case max24HourSend = "Max24HourSend"
            case maxSendRate = "MaxSendRate"
            case sentLast24Hours = "SentLast24Hours"
        }
    }

    var sendQuota: Quota
    var sendingEnabled: Bool
    var productionAccessEnabled: Bool?

    enum CodingKeys: String, CodingKey {
        case sendQuota = "SendQuota"
        case sendingEnabled = "SendingEnabled"
        case productionAccessEnabled = "ProductionAccessEnabled"
    }

    var account: SESAccount {
        SESAccount(
            sendQuota: SendQuota(
                max24HourSend: sendQuota.max24HourSend, maxSendRate: sendQuota.maxSendRate,
                sentLast24Hours: sendQuota.sentLast24Hours),
            sendingEnabled: sendingEnabled, productionAccessEnabled: productionAccessEnabled)
    }
}

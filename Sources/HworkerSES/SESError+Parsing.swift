// Reads SES's error answers, v2 (REST-JSON) and v1 (Query, XML) alike.
//
// The code comes from the `x-amzn-ErrorType` header (up to the first `:`),
// else from the body: JSON `__type` (after any `namespace#`) or `code`/`Code`,
// or XML `<Code>`. The message comes from JSON `message`/`Message` or XML
// `<Message>`; an answer that is neither (an HTML error page from a proxy or
// load balancer) contributes a short, single-line excerpt instead.

import FoundationEssentials

extension SESError {
    /// Builds the error for an answer with a non-2xx status.
    ///
    /// - Parameters:
    ///   - response: SES's answer.
    ///   - operation: The SES operation, such as `SendEmail`.
    /// - Returns: The error, classified.
    public static func fromResponse(_ response: HTTPResponse, operation: String) -> SESError {
        let text = String(decoding: response.body, as: UTF8.self)
        let json = try? JSONDecoder().decode(JSONError.self, from: Data(response.body))

        var code = response.headers.value(for: "x-amzn-ErrorType").map(Self.headerCode)
        code = code ?? json?.type.map(Self.typeCode) ?? json?.code ?? json?.upperCode
        code = code ?? XMLText.element("Code", in: text)
        code = code.flatMap { $0.isEmpty ? nil : $0 }

        let message =
            json?.message ?? json?.upperMessage ?? XMLText.element("Message", in: text)
            ?? excerpt(text) ?? "HTTP \(response.status)"
        let requestId =
            response.headers.value(for: "x-amzn-RequestId")
            ?? response.headers.value(for: "x-amz-request-id")
            ?? XMLText.element("RequestId", in: text)

        return SESError(
            operation: operation, kind: .service(status: response.status), code: code,
            message: message, requestId: requestId,
            classification: .classify(status: response.status, code: code, message: message))
    }

    /// The error for a 2xx answer whose body could not be read.
    static func malformed(_ response: HTTPResponse, operation: String, expected: String) -> SESError
    {
        let found = excerpt(String(decoding: response.body, as: UTF8.self)) ?? "an empty body"
        return SESError(
            operation: operation, kind: .malformedResponse(status: response.status),
            message: "expected \(expected), got \(found)",
            requestId: response.headers.value(for: "x-amzn-RequestId"),
            classification: .transient)
    }

    /// `MessageRejected:http://internal.amazon.com/...` → `MessageRejected`.
    private static func headerCode(_ value: String) -> String {
        String(value.prefix { $0 != ":" }).trimmingWhitespace
    }

    /// `com.amazonaws.ses#MessageRejected` → `MessageRejected`.
    private static func typeCode(_ value: String) -> String {
        headerCode(String(value.split(separator: "#").last ?? Substring(value)))
    }

    /// The first 200 characters of `text` on one line, or `nil` if it is blank.
    private static func excerpt(_ text: String) -> String? {
        let squeezed = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard !squeezed.isEmpty else { return nil }
        return squeezed.count > 200 ? String(squeezed.prefix(200)) + "…" : squeezed
    }
}

/// The fields an AWS JSON error body may use.
private struct JSONError: Decodable {
    var type: String?
    var code: String?
    var upperCode: String?
    var message: String?
    var upperMessage: String?

    enum CodingKeys: String, CodingKey {
        case type = "__type"
        case code
        case upperCode = "Code"
        case message
        case upperMessage = "Message"
    }
}

extension String {
    /// The string without leading and trailing whitespace.
    var trimmingWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
            let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}

// A request that got no usable answer: libcurl failed before or while
// exchanging it (refused, reset, timed out, TLS, too large an answer).
//
// It keeps the libcurl function that failed, its CURLcode and libcurl's own
// explanation, so that logs say exactly what happened. Server error answers
// (4xx, 5xx) are not errors at this level: they are responses.

/// A transport failure of the HTTP client.
public struct HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The libcurl function that failed, such as `curl_easy_perform`.
    public var call: String
    /// The CURLcode it returned, such as 7 (could not connect) or 28 (timed out).
    public var code: Int32
    /// libcurl's explanation.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - call: The libcurl function that failed.
    ///   - code: Its CURLcode.
    ///   - message: libcurl's explanation.
    public init(call: String, code: Int32, message: String) {
        self.call = call
        self.code = code
        self.message = message
    }

    /// Whether the connect or the request timeout expired (CURLE_OPERATION_TIMEDOUT).
    public var isTimeout: Bool { code == 28 }

    /// `curl_easy_perform failed (7): Failed to connect to ...`.
    public var description: String { "\(call) failed (\(code)): \(message)" }
}

// An HTTP request and response as the SES client exchanges them.
//
// Bodies are whole byte arrays: SES requests and answers are small (at most
// the 40 MB message in base64), and the signer needs the exact bytes anyway.

/// One request to send.
public struct HTTPRequest: Sendable, Equatable {
    /// The method, such as `GET` or `POST`.
    public var method: String
    /// The absolute URL, such as `https://email.us-east-1.amazonaws.com/v2/email/account`.
    public var url: String
    /// Headers to send as given; the client adds only `Content-Length` and suppresses
    /// `Expect`.
    public var headers: [HTTPHeader]
    /// The body, sent with a `Content-Length` (never chunked).
    public var body: [UInt8]

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - url: The absolute URL.
    ///   - headers: The headers to send.
    ///   - body: The body bytes; empty for none.
    public init(method: String, url: String, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// One response received.
public struct HTTPResponse: Sendable, Equatable {
    /// The status code, such as 200.
    public var status: Int
    /// The headers of the final response (not of any `100 Continue` before it).
    public var headers: [HTTPHeader]
    /// The body bytes.
    public var body: [UInt8]

    /// Creates a response.
    ///
    /// - Parameters:
    ///   - status: The status code.
    ///   - headers: The response headers.
    ///   - body: The body bytes.
    public init(status: Int, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200..<300).contains(status) }
}

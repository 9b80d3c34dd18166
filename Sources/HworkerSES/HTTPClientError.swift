// A request that got no usable answer: the HTTP client failed before or while
// exchanging it (name not resolved, refused, reset, timed out, TLS, an answer
// too large or not HTTP).
//
// It keeps what failed and a message that names the peer and the system's or
// OpenSSL's own explanation, so that logs say exactly what happened. Server
// error answers (4xx, 5xx) are not errors at this level: they are responses.

/// A transport failure of the HTTP client.
public struct HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What failed.
    public enum Kind: String, Sendable, Equatable, CustomStringConvertible {
        /// The URL is not `http://` or `https://` with a host, or the request is unsendable
        /// (a header with a line break in it).
        case invalidRequest
        /// The host name did not resolve.
        case resolve
        /// No TCP connection could be made (refused, unreachable).
        case connect
        /// The TLS handshake or a TLS read or write failed.
        case tls
        /// The peer's certificate failed verification: unknown authority, another name,
        /// expired. Retrying does not help until the trusted certificates change.
        case certificate
        /// The request could not be written (the connection broke).
        case send
        /// The answer could not be read (the connection broke before it was complete).
        case receive
        /// The connect or the request timeout expired.
        case timeout
        /// The answer is not HTTP/1.x, or its framing is broken.
        case malformedResponse
        /// The answer is larger than the client accepts.
        case responseTooLarge
        /// The proxy refused to open a tunnel.
        case proxy
        /// OpenSSL could not be loaded or set up.
        case library

        /// The kind's name, for logs (`http.error=timeout`).
        public var description: String { rawValue }
    }

    /// What failed.
    public var kind: Kind
    /// What happened, naming the peer where there is one.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - kind: What failed.
    ///   - message: What happened.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// Whether the connect or the request timeout expired.
    public var isTimeout: Bool { kind == .timeout }

    /// `connect: 127.0.0.1:5400: Connection refused`.
    public var description: String { "\(kind): \(message)" }
}

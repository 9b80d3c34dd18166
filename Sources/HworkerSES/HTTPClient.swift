// A small blocking HTTP/1.1 client: one kept connection, plain or TLS.
//
// Each worker process owns one SES client and so one HTTPClient; it is used
// from one thread at a time and is deliberately not Sendable. The connection
// of the last request is kept open (keep-alive) and reused when the next
// request goes to the same scheme, host and port and the peer has not closed
// it meanwhile. A request on a kept connection that breaks before any byte of
// the answer arrived is sent once more on a new connection: the peer closed
// the idle connection as the request left, so it never saw it.
//
// What every request gets:
// - a connect timeout (TCP and TLS handshake) and a total timeout, enforced
//   by polling a non-blocking socket against a deadline;
// - TLS 1.2 or later with the certificate and the host name verified, through
//   OpenSSL loaded on first use (see CSupport's TLS.c), so a process that only
//   talks plain HTTP never maps it;
// - an explicit Content-Length, never chunked, so the body goes exactly as it
//   was signed; no redirects followed;
// - no proxy unless one is configured: the environment is not consulted;
// - a cap on the answer's size, so a broken peer cannot exhaust memory.

import CSupport

/// A blocking HTTP client that keeps its connection alive between requests.
public final class HTTPClient {
    /// Limits and routing for every request.
    public struct Options: Sendable {
        /// How long to wait for the TCP connection and the TLS handshake.
        public var connectTimeout: Duration
        /// How long the whole request may take, connection included.
        public var requestTimeout: Duration
        /// An `http://host:port` proxy; `https` URLs go through it with CONNECT. `nil`
        /// means none, whatever the environment says.
        public var proxy: String?
        /// The User-Agent header, unless the request has one.
        public var userAgent: String
        /// Larger answers are cut off and reported as an error.
        public var maximumResponseBytes: Int
        /// A PEM file of certificates to trust for https instead of the system's.
        public var trustedCertificates: String?

        /// Creates options.
        ///
        /// - Parameters:
        ///   - connectTimeout: The connect timeout, TLS handshake included.
        ///   - requestTimeout: The total timeout per request.
        ///   - proxy: An `http://` proxy URL, or `nil` for a direct connection.
        ///   - userAgent: The User-Agent header.
        ///   - maximumResponseBytes: The largest answer accepted.
        ///   - trustedCertificates: A PEM file to trust instead of the system's
        ///     certificates, or `nil`.
        public init(
            connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(30),
            proxy: String? = nil, userAgent: String = "hworker-ses",
            maximumResponseBytes: Int = 16 << 20, trustedCertificates: String? = nil
        ) {
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.proxy = proxy
            self.userAgent = userAgent
            self.maximumResponseBytes = maximumResponseBytes
            self.trustedCertificates = trustedCertificates
        }
    }

    /// The options every request uses.
    public let options: Options

    /// Whether the last request went over a connection kept from an earlier one.
    public private(set) var lastRequestReusedConnection = false

    /// Whether the last request was sent twice: its kept connection broke before any byte
    /// of the answer arrived, so it went again on a new one. The peer almost always
    /// never saw the first copy, but may have (see the file's design note).
    public private(set) var lastRequestWasResent = false

    private let proxy: HTTPTarget?
    private var kept: (origin: String, connection: HTTPConnection)?
    private var tlsContext: HTTPTLSContext?

    /// Creates a client; it connects on its first request.
    ///
    /// - Parameter options: Limits and routing for every request.
    /// - Throws: `HTTPClientError` of kind `invalidRequest` for a proxy URL that is not
    ///   `http://host[:port]`.
    public init(options: Options = Options()) throws(HTTPClientError) {
        self.options = options
        if let url = options.proxy {
            let proxy = try HTTPTarget(parsing: url)
            guard !proxy.secure, proxy.path == "/" else {
                throw HTTPClientError(.invalidRequest, "proxy \(url): give http://host:port")
            }
            self.proxy = proxy
        } else {
            proxy = nil
        }
    }

    /// Sends `request` and waits for the whole answer.
    ///
    /// - Parameter request: The request; its headers are sent as given, with Host,
    ///   User-Agent and Content-Length added where missing.
    /// - Returns: The final response, whatever its status.
    /// - Throws: `HTTPClientError` when no complete answer arrived: name not resolved,
    ///   connection refused or reset, timeout, TLS failure, an answer that is not HTTP or
    ///   is over the size limit.
    public func perform(_ request: HTTPRequest) throws(HTTPClientError) -> HTTPResponse {
        let target = try HTTPTarget(parsing: request.url)
        let wire = try Self.encode(
            request, target: target, viaProxy: proxy != nil && !target.secure)
        let deadline = HTTPDeadline(after: options.requestTimeout)
        let origin = target.origin
        lastRequestWasResent = false

        if let reusable = takeKeptConnection(origin: origin) {
            do {
                return try exchange(wire, request.method, reusable, origin, reused: true, deadline)
            } catch {
                guard error.mayResend else { throw error.error }
                lastRequestWasResent = true
            }
        }
        let connection = try connect(to: target, deadline: deadline)
        do {
            return try exchange(wire, request.method, connection, origin, reused: false, deadline)
        } catch {
            throw error.error
        }
    }

    /// A failed exchange, and whether the request may go again on a new connection.
    private struct ExchangeFailure: Error {
        var error: HTTPClientError
        var mayResend: Bool
    }

    /// Writes one request and reads its answer; keeps the connection if the answer allows.
    private func exchange(
        _ wire: [UInt8], _ method: String, _ connection: HTTPConnection, _ origin: String,
        reused: Bool, _ deadline: HTTPDeadline
    ) throws(ExchangeFailure) -> HTTPResponse {
        var reader = HTTPResponseReader(
            connection: connection, deadline: deadline,
            maximumBodyBytes: options.maximumResponseBytes)
        do {
            try connection.write(wire, deadline: deadline)
            let answer = try reader.read(method: method)
            if answer.keepAlive { kept = (origin, connection) }
            lastRequestReusedConnection = reused
            return answer.response
        } catch {
            let broken: [HTTPClientError.Kind] = [.send, .receive, .tls]
            let brokenBeforeAnswer = !reader.receivedAnything && broken.contains(error.kind)
            throw ExchangeFailure(error: error, mayResend: reused && brokenBeforeAnswer)
        }
    }

    /// The kept connection if it goes to `origin` and the peer has not closed it.
    private func takeKeptConnection(origin: String) -> HTTPConnection? {
        defer { kept = nil }
        guard let kept, kept.origin == origin, kept.connection.isIdleAndOpen else { return nil }
        return kept.connection
    }

    /// Opens a connection to the target, through the proxy if there is one, with TLS for
    /// https.
    private func connect(
        to target: HTTPTarget, deadline: HTTPDeadline
    ) throws(HTTPClientError) -> HTTPConnection {
        let connectDeadline = deadline.capped(at: options.connectTimeout)
        let hop = proxy ?? target
        let connection = try HTTPConnection.open(
            host: hop.host, port: hop.port, deadline: connectDeadline)
        guard target.secure else { return connection }

        if proxy != nil {
            try openTunnel(through: connection, to: target, deadline: connectDeadline)
        }
        let context: HTTPTLSContext
        if let tlsContext {
            context = tlsContext
        } else {
            context = try HTTPTLSContext(trusting: options.trustedCertificates)
            tlsContext = context
        }
        try connection.startTLS(
            context: context.pointer, host: target.host, deadline: connectDeadline)
        return connection
    }

    /// Asks the proxy for a tunnel to the target (CONNECT) and checks that it agreed.
    private func openTunnel(
        through connection: HTTPConnection, to target: HTTPTarget, deadline: HTTPDeadline
    ) throws(HTTPClientError) {
        let host = target.host.contains(":") ? "[\(target.host)]" : target.host
        let authority = "\(host):\(target.port)"
        let request = "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n\r\n"
        try connection.write(Array(request.utf8), deadline: deadline)
        var reader = HTTPResponseReader(
            connection: connection, deadline: deadline, maximumBodyBytes: 64 << 10)
        let answer = try reader.read(method: "CONNECT")
        guard answer.response.isSuccess else {
            let status = answer.response.status
            throw HTTPClientError(
                .proxy, "\(connection.peer) answered \(status) to CONNECT \(authority)")
        }
    }

    /// The request line, the headers and the body, as they go on the wire.
    private static func encode(
        _ request: HTTPRequest, target: HTTPTarget, viaProxy: Bool
    ) throws(HTTPClientError) -> [UInt8] {
        let method = request.method
        guard !method.isEmpty, method.utf8.allSatisfy(isTokenByte) else {
            throw HTTPClientError(.invalidRequest, "invalid method \(method)")
        }
        let requestTarget = viaProxy ? target.origin + target.path : target.path
        var head = "\(method) \(requestTarget) HTTP/1.1\r\n"
        var given = Set<String>()
        for header in request.headers {
            guard !header.name.isEmpty, header.name.utf8.allSatisfy(isTokenByte),
                !header.value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 })
            else { throw HTTPClientError(.invalidRequest, "invalid header \(header.name)") }
            given.insert(header.name.lowercased())
            head += "\(header.name): \(header.value)\r\n"
        }
        if !given.contains("host") { head += "Host: \(target.authority)\r\n" }
        if !given.contains("user-agent") { head += "User-Agent: hworker-ses\r\n" }
        let bodyless = (method == "GET" || method == "HEAD") && request.body.isEmpty
        if !given.contains("content-length") && !bodyless {
            head += "Content-Length: \(request.body.count)\r\n"
        }
        head += "\r\n"
        var wire = [UInt8]()
        wire.reserveCapacity(head.utf8.count + request.body.count)
        wire += head.utf8
        wire += request.body
        return wire
    }

    /// Whether `byte` may appear in a method or header name (RFC 9110 token).
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

/// OpenSSL's client context: which certificates to trust. Made on the first https
/// request and kept for the client's life.
final class HTTPTLSContext {
    let pointer: UnsafeMutableRawPointer

    /// Loads OpenSSL if needed and makes a context that verifies peers.
    ///
    /// - Parameter file: A PEM file to trust, or `nil` for the system's certificates.
    /// - Throws: `HTTPClientError` of kind `library` when OpenSSL cannot be loaded or the
    ///   certificates cannot be read.
    init(trusting file: String?) throws(HTTPClientError) {
        if let failure = hw_tls_load() {
            throw HTTPClientError(.library, String(cString: failure))
        }
        var message = [CChar](repeating: 0, count: 512)
        guard let context = hw_tls_context_new(file, &message, message.count) else {
            throw HTTPClientError(.library, String(nulTerminated: message))
        }
        pointer = context
    }

    deinit { hw_tls_context_free(pointer) }
}

extension String {
    /// The text of a NUL-terminated C buffer filled by a C function.
    init(nulTerminated buffer: [CChar]) {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self.init(decoding: bytes, as: UTF8.self)
    }
}

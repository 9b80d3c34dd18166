// The parts of an absolute http or https URL the client needs: whether to use
// TLS, where to connect, what to send as the Host header and as the request
// target. Nothing else is accepted (no user info, no other scheme), so a URL
// from a configuration file cannot point the client at a file or a socket.

/// Where one request goes.
struct HTTPTarget: Equatable {
    /// Whether the connection uses TLS (`https`).
    var secure: Bool
    /// The host to connect to and to verify the certificate against, without brackets.
    var host: String
    /// The TCP port.
    var port: Int
    /// The path and query, starting with `/`.
    var path: String

    /// The Host header value: the host (an IPv6 literal in brackets), and the port
    /// unless it is the scheme's default.
    var authority: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// The scheme, host and port, which decide whether a kept connection can be reused.
    var origin: String { "\(secure ? "https" : "http")://\(authority)" }

    /// Parses `url`.
    ///
    /// - Parameter url: An absolute `http://` or `https://` URL.
    /// - Throws: `HTTPClientError` of kind `invalidRequest` naming what is wrong.
    init(parsing url: String) throws(HTTPClientError) {
        let rest: Substring
        if url.hasPrefix("https://") {
            secure = true
            rest = url.dropFirst("https://".count)
        } else if url.hasPrefix("http://") {
            secure = false
            rest = url.dropFirst("http://".count)
        } else {
            throw HTTPClientError(.invalidRequest, "\(url): only http and https URLs are supported")
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if let fragment = target.firstIndex(of: "#") { target = String(target[..<fragment]) }
        if target.isEmpty || target.first == "?" { target = "/" + target }
        path = target
        guard !authority.contains("@") else {
            throw HTTPClientError(.invalidRequest, "\(url): user names in URLs are not supported")
        }
        (host, port) = try Self.hostAndPort(authority, secure: secure, url: url)
        guard path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw HTTPClientError(.invalidRequest, "\(url): the path has spaces or control bytes")
        }
    }

    /// Splits `host[:port]` or `[v6]:port`.
    private static func hostAndPort(
        _ authority: Substring, secure: Bool, url: String
    ) throws(HTTPClientError) -> (String, Int) {
        var host = authority
        var portText: Substring = ""
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw HTTPClientError(.invalidRequest, "\(url): unclosed [ in the host")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw HTTPClientError(.invalidRequest, "\(url): unexpected text after the host")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        let validHost = host.utf8.allSatisfy { byte in
            byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "/")
        }
        guard !host.isEmpty, validHost else {
            throw HTTPClientError(.invalidRequest, "\(url): no valid host")
        }
        guard !portText.isEmpty else { return (String(host), secure ? 443 : 80) }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw HTTPClientError(.invalidRequest, "\(url): invalid port \(portText)")
        }
        return (String(host), port)
    }
}

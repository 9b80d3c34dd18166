// Where SES requests go, and the Host value that is signed and sent.
//
// The default is `https://email.<region>.amazonaws.com`; tests and special
// deployments override it with a URL such as `http://127.0.0.1:5000`. The
// Host header carries the port only when it is not the scheme's default, the
// same rule botocore and browsers follow, and the client sends exactly the
// value it signed.

/// The base URL of the SES API.
public struct SESEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// `http` or `https`.
    public var scheme: String
    /// The host name or address, lower case; IPv6 addresses keep their brackets.
    public var host: String
    /// The port, when the URL names one.
    public var port: Int?
    /// A path prefix without a trailing slash, usually empty.
    public var basePath: String

    /// The public SES endpoint of a region.
    ///
    /// - Parameter region: The region, such as `eu-west-1`.
    /// - Returns: `https://email.<region>.amazonaws.com`.
    public static func standard(region: String) -> SESEndpoint {
        SESEndpoint(scheme: "https", host: "email.\(region).amazonaws.com", port: nil, basePath: "")
    }

    private init(scheme: String, host: String, port: Int?, basePath: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = basePath
    }

    /// Parses `scheme://host[:port][/path]`.
    ///
    /// - Parameter url: The endpoint URL, such as `http://127.0.0.1:5000`.
    /// - Throws: `SESClient.ConfigurationError.invalidEndpoint` naming what is wrong.
    public init(parsing url: String) throws(SESClient.ConfigurationError) {
        let fail = { (reason: String) in SESClient.ConfigurationError.invalidEndpoint(url, reason) }
        guard let schemeEnd = url.firstRange(of: "://") else { throw fail("no scheme") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { throw fail("scheme is not http(s)") }

        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let path = rest[authority.endIndex...]
        guard !path.contains("?") && !path.contains("#") else {
            throw fail("query or fragment not allowed")
        }
        guard !authority.contains("@") else { throw fail("user info not allowed") }

        var host = Substring(authority)
        var port: Int?
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            host = authority[..<colon]
            guard let number = Int(authority[authority.index(after: colon)...]),
                (1...65535).contains(number)
            else { throw fail("invalid port") }
            port = number
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace) else {
            throw fail("no host")
        }
        let base = path.hasSuffix("/") ? path.dropLast() : path
        self.init(scheme: scheme, host: host.lowercased(), port: port, basePath: String(base))
    }

    /// The Host header value: the host, plus the port when it is not the default.
    public var hostHeader: String {
        let defaultPort = scheme == "https" ? 443 : 80
        guard let port, port != defaultPort else { return host }
        return "\(host):\(port)"
    }

    /// The absolute URL of `path` (which starts with `/`).
    func url(path: String) -> String {
        "\(scheme)://\(hostHeader)\(basePath)\(path)"
    }

    /// The base URL.
    public var description: String { url(path: "") }
}

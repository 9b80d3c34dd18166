/// Where a Redis server is and how to log in to it.
public struct RedisOptions: Sendable, Equatable {
    /// The server's address.
    public enum Address: Sendable, Equatable, CustomStringConvertible {
        /// A TCP host and port.
        case tcp(host: String, port: Int)
        /// A unix-domain socket path.
        case unix(path: String)

        /// `host:port` or `unix:/path`, as written in the configuration.
        public var description: String {
            switch self {
            case .tcp(let host, let port): return "\(host):\(port)"
            case .unix(let path): return "unix:\(path)"
            }
        }

        /// Parses `host:port`, `[v6]:port`, `unix:/path` or a bare `/path`.
        ///
        /// - Parameter text: The address as written by the user.
        /// - Returns: The address, or `nil` when it is not one of those forms.
        public static func parse(_ text: String) -> Address? {
            if text.hasPrefix("unix:") { return .unix(path: String(text.dropFirst(5))) }
            if text.hasPrefix("/") { return .unix(path: text) }
            guard let colon = text.lastIndex(of: ":") else { return nil }
            var host = String(text[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") {
                host = String(host.dropFirst().dropLast())
            }
            guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]),
                (1...65535).contains(port)
            else { return nil }
            return .tcp(host: host, port: port)
        }
    }

    /// The server's address.
    public var address: Address
    /// The database number selected after connecting.
    public var database: Int
    /// The ACL user name, or `nil` for the default user.
    public var user: String?
    /// The password; it is sent with `AUTH` and never logged.
    public var password: String?
    /// How long opening a connection may take, in seconds.
    public var connectTimeout: Double
    /// How long one command may take, in seconds, before the connection counts as broken.
    public var commandTimeout: Double

    /// Creates connection options.
    public init(
        address: Address, database: Int = 0, user: String? = nil, password: String? = nil,
        connectTimeout: Double = 2, commandTimeout: Double = 5
    ) {
        self.address = address
        self.database = database
        self.user = user
        self.password = password
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }
}

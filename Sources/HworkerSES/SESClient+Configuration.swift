// How an SES client is set up, and what can be wrong with that.

extension SESClient {
    /// Everything an SES client needs.
    public struct Configuration: Sendable {
        /// The region, such as `eu-west-1`; part of the endpoint and the signature.
        public var region: String
        /// The key that signs requests.
        public var credentials: AWSCredentials
        /// An endpoint URL replacing the region's public one, such as
        /// `http://127.0.0.1:5000` for a test server.
        public var endpoint: String?
        /// How long to wait for a connection.
        public var connectTimeout: Duration
        /// How long one request may take in all.
        public var requestTimeout: Duration
        /// A proxy URL; `nil` connects directly whatever the environment says.
        public var proxy: String?

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - region: The region.
        ///   - credentials: The signing key.
        ///   - endpoint: An endpoint URL, or `nil` for `https://email.<region>.amazonaws.com`.
        ///   - connectTimeout: The connect timeout.
        ///   - requestTimeout: The total timeout per request.
        ///   - proxy: A proxy URL, or `nil` for none.
        public init(
            region: String, credentials: AWSCredentials, endpoint: String? = nil,
            connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(30),
            proxy: String? = nil
        ) {
            self.region = region
            self.credentials = credentials
            self.endpoint = endpoint
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.proxy = proxy
        }

        /// The region to use: the configured one, else `AWS_REGION`, else
        /// `AWS_DEFAULT_REGION`.
        ///
        /// - Parameters:
        ///   - configured: The region from the daemon's configuration, if any.
        ///   - environment: The process environment.
        /// - Returns: The region, or `nil` if none is set anywhere.
        public static func region(configured: String?, environment: [String: String]) -> String? {
            for candidate in [
                configured, environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"],
            ] {
                if let candidate, !candidate.isEmpty { return candidate }
            }
            return nil
        }
    }

    /// A configuration the client cannot work with.
    public enum ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The region is empty or not letters, digits and hyphens.
        case invalidRegion(String)
        /// The endpoint URL does not parse; the reason says why.
        case invalidEndpoint(String, String)
        /// The HTTP client refused its options (a proxy URL it cannot use).
        case httpClient(HTTPClientError)

        /// What is wrong, for an operator.
        public var description: String {
            switch self {
            case .invalidRegion(let region): "invalid region \(String(reflecting: region))"
            case .invalidEndpoint(let url, let reason): "invalid endpoint \(url): \(reason)"
            case .httpClient(let error): "HTTP client: \(error)"
            }
        }
    }
}

// Building a worker's transport from the configuration.

import HworkerSES

/// Builds the transport a worker sends through.
enum TransportFactory {
    /// Creates an SES client with the configuration's region, endpoint, timeouts and
    /// (already resolved) credentials.
    ///
    /// - Parameter config: The child's configuration.
    /// - Returns: The transport.
    /// - Throws: `SESClient.ConfigurationError` or `CredentialError`.
    static func make(_ config: Configuration) throws -> MailTransport {
        if config.transport == .discard { return DiscardingTransport() }
        guard let key = config.awsAccessKeyID, let secret = config.awsSecretAccessKey else {
            throw CredentialError(reason: "credentials were not resolved by the master")
        }
        let credentials = AWSCredentials(
            accessKeyId: key, secretAccessKey: secret, sessionToken: config.awsSessionToken)
        let client = try SESClient(
            configuration: SESClient.Configuration(
                region: config.region, credentials: credentials, endpoint: config.sesEndpoint,
                connectTimeout: .milliseconds(Int(config.connectTimeout * 1000)),
                requestTimeout: .milliseconds(Int(config.sendTimeout * 1000))))
        return SESTransport(
            client: client,
            pauses: .init(quota: config.quotaRecheck, refusal: config.pauseRecheck))
    }
}

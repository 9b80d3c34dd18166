// Resolving AWS credentials once, in the master, so that children never read
// credential files and a reload picks up rotated keys.

import HworkerSES

/// AWS credentials that could not be found; names the sources, never a secret.
struct CredentialError: Error, CustomStringConvertible {
    var reason: String

    var description: String { "AWS credentials: \(reason)" }
}

/// Resolves the AWS credentials of a configuration.
enum CredentialResolver {
    /// Returns the configuration with explicit credentials filled in from the first source
    /// that has them: the file's keys, a configured profile, the environment, the shared
    /// credentials file.
    ///
    /// - Parameters:
    ///   - config: The parsed configuration.
    ///   - environment: The process environment.
    /// - Returns: The configuration with `awsAccessKeyID` and `awsSecretAccessKey` set.
    /// - Throws: `CredentialError` naming what was searched.
    static func resolve(
        _ config: Configuration, environment: [String: String] = ProcessEnvironment.current
    ) throws(CredentialError) -> Configuration {
        if config.transport == .discard { return config }
        let resolution: AWSCredentials.Resolution
        do {
            resolution = try AWSCredentials.resolve(
                accessKeyId: config.awsAccessKeyID, secretAccessKey: config.awsSecretAccessKey,
                sessionToken: config.awsSessionToken, environment: environment,
                credentialsFile: config.awsCredentialsFile, profile: config.awsProfile)
        } catch {
            throw CredentialError(reason: "\(error)")
        }
        var resolved = config
        resolved.awsAccessKeyID = resolution.credentials.accessKeyId
        resolved.awsSecretAccessKey = resolution.credentials.secretAccessKey
        resolved.awsSessionToken = resolution.credentials.sessionToken
        return resolved
    }
}

// Finds the credentials a daemon should use, in a fixed order:
//
// 1. explicit values from the daemon's configuration;
// 2. an explicitly configured profile, read from the shared credentials file;
// 3. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
//    AWS_SESSION_TOKEN;
// 4. the shared credentials file (the `credentialsFile` argument, else
//    AWS_SHARED_CREDENTIALS_FILE, else $HOME/.aws/credentials) with the
//    profile from AWS_PROFILE, else `default`.
//
// Step 2 follows botocore: a profile the operator configured on purpose wins
// over whatever keys happen to be in the environment. The environment is
// passed in as a dictionary so that tests (and reloads) control it.
// Instance metadata is never contacted: it lives at a link-local address
// that a mail daemon has no business calling unasked.

extension AWSCredentials {
    /// Where resolved credentials came from, for logs.
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        /// Explicit configuration.
        case explicit
        /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
        case environment
        /// A profile of a shared credentials file.
        case sharedFile(path: String, profile: String)

        /// A short form such as `file /root/.aws/credentials [default]`.
        public var description: String {
            switch self {
            case .explicit: "explicit configuration"
            case .environment: "environment"
            case .sharedFile(let path, let profile): "file \(path) [\(profile)]"
            }
        }
    }

    /// Credentials together with where they were found.
    public struct Resolution: Sendable, Equatable {
        /// The credentials.
        public var credentials: AWSCredentials
        /// Where they came from.
        public var source: Source
    }

    /// Resolves credentials from explicit values, the environment and the shared file.
    ///
    /// - Parameters:
    ///   - accessKeyId: An explicitly configured access key id.
    ///   - secretAccessKey: An explicitly configured secret.
    ///   - sessionToken: An explicitly configured session token.
    ///   - environment: The process environment, such as `ProcessInfo.processInfo.environment`.
    ///   - credentialsFile: The shared credentials file to read instead of the default.
    ///   - profile: The profile to use instead of `AWS_PROFILE` or `default`.
    /// - Returns: The first complete credentials found, with their source.
    /// - Throws: `AWSCredentialsError` when a source is half-configured or unreadable, or
    ///   when no source has credentials.
    public static func resolve(
        accessKeyId: String? = nil, secretAccessKey: String? = nil, sessionToken: String? = nil,
        environment: [String: String], credentialsFile: String? = nil, profile: String? = nil
    ) throws(AWSCredentialsError) -> Resolution {
        if let explicit = try fromExplicit(accessKeyId, secretAccessKey, sessionToken) {
            return Resolution(credentials: explicit, source: .explicit)
        }

        let file = credentialsFilePath(credentialsFile, environment: environment)
        if let profile = nonEmpty(profile) {
            if let found = try fromFile(file, profile: profile, required: true) { return found }
            throw .profileNotFound(profile: profile, path: unsetHome)
        }

        if let credentials = try fromEnvironment(environment) {
            return Resolution(credentials: credentials, source: .environment)
        }

        let name = nonEmpty(environment["AWS_PROFILE"]) ?? "default"
        if let found = try fromFile(file, profile: name, required: false) { return found }
        throw .notFound(searched: [
            "explicit configuration", "environment (AWS_ACCESS_KEY_ID)",
            "\(file.path ?? unsetHome) [\(name)]",
        ])
    }

    private static let unsetHome = "$HOME/.aws/credentials (HOME unset)"

    private static func fromExplicit(
        _ id: String?, _ secret: String?, _ token: String?
    ) throws(AWSCredentialsError) -> AWSCredentials? {
        let id = nonEmpty(id)
        let secret = nonEmpty(secret)
        let token = nonEmpty(token)
        if id == nil && secret == nil && token == nil { return nil }
        guard let id else { throw .incompleteExplicit(missing: "accessKeyId") }
        guard let secret else { throw .incompleteExplicit(missing: "secretAccessKey") }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token)
    }

    private static func fromEnvironment(
        _ environment: [String: String]
    ) throws(AWSCredentialsError) -> AWSCredentials? {
        let id = nonEmpty(environment["AWS_ACCESS_KEY_ID"])
        let secret = nonEmpty(environment["AWS_SECRET_ACCESS_KEY"])
        if id == nil && secret == nil { return nil }
        guard let id else { throw .incompleteEnvironment(missing: "AWS_ACCESS_KEY_ID") }
        guard let secret else { throw .incompleteEnvironment(missing: "AWS_SECRET_ACCESS_KEY") }
        let token = nonEmpty(environment["AWS_SESSION_TOKEN"])
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token)
    }

    /// The file to read, and whether it was asked for explicitly (then it must exist).
    private static func credentialsFilePath(
        _ configured: String?, environment: [String: String]
    ) -> (path: String?, explicit: Bool) {
        let home = nonEmpty(environment["HOME"])
        let expand = { (path: String) -> String in
            guard path.hasPrefix("~/"), let home else { return path }
            return home + path.dropFirst()
        }
        if let path = nonEmpty(configured) ?? nonEmpty(environment["AWS_SHARED_CREDENTIALS_FILE"]) {
            return (expand(path), true)
        }
        return (home.map { $0 + "/.aws/credentials" }, false)
    }

    private static func fromFile(
        _ file: (path: String?, explicit: Bool), profile: String, required: Bool
    ) throws(AWSCredentialsError) -> Resolution? {
        guard let path = file.path,
            let text = try SharedCredentialsFile.contents(
                path: path, missingIsError: file.explicit || required)
        else { return nil }

        let parsed = try SharedCredentialsFile(parsing: text, path: path)
        guard let keys = parsed.profiles[profile] else {
            throw .profileNotFound(profile: profile, path: path)
        }
        guard let id = nonEmpty(keys["aws_access_key_id"]) else {
            throw .incompleteProfile(profile: profile, path: path, missing: "aws_access_key_id")
        }
        guard let secret = nonEmpty(keys["aws_secret_access_key"]) else {
            throw .incompleteProfile(profile: profile, path: path, missing: "aws_secret_access_key")
        }
        let token = nonEmpty(keys["aws_session_token"]) ?? nonEmpty(keys["aws_security_token"])
        return Resolution(
            credentials: AWSCredentials(
                accessKeyId: id, secretAccessKey: secret, sessionToken: token),
            source: .sharedFile(path: path, profile: profile))
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}

/// Resolves the AWS credentials of a configuration once, in the master.
enum CredentialResolver {
    static func resolve(_ config: Configuration) throws -> Configuration {
        config
    }
}

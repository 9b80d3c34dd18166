// Why no usable credentials could be found.
//
// Each case says what is missing and where it was looked for; parse errors
// name the file and the line number. None of them ever carries a value read
// from a credentials source, so printing one cannot leak a secret.

/// A failure to resolve AWS credentials.
public enum AWSCredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Explicit configuration gave one half of a key but not the other.
    case incompleteExplicit(missing: String)
    /// The environment sets one of the two key variables but not the other.
    case incompleteEnvironment(missing: String)
    /// A credentials file that was asked for explicitly cannot be read.
    case unreadableFile(path: String, errno: Int32)
    /// A line of the credentials file is neither a section, a key, a comment nor blank.
    case malformedLine(path: String, line: Int, reason: String)
    /// The credentials file has no section for the profile.
    case profileNotFound(profile: String, path: String)
    /// The profile's section lacks a key.
    case incompleteProfile(profile: String, path: String, missing: String)
    /// Nothing anywhere: the sources that were tried, in order.
    case notFound(searched: [String])

    /// What is wrong, for an operator.
    public var description: String {
        switch self {
        case .incompleteExplicit(let missing):
            "explicitly configured credentials lack \(missing)"
        case .incompleteEnvironment(let missing):
            "environment sets only half a key: \(missing) is not set"
        case .unreadableFile(let path, let errno):
            "cannot read credentials file \(path) (errno \(errno))"
        case .malformedLine(let path, let line, let reason):
            "\(path):\(line): \(reason)"
        case .profileNotFound(let profile, let path):
            "profile [\(profile)] not found in \(path)"
        case .incompleteProfile(let profile, let path, let missing):
            "profile [\(profile)] in \(path) lacks \(missing)"
        case .notFound(let searched):
            "no AWS credentials found (tried: \(searched.joined(separator: ", ")))"
        }
    }
}

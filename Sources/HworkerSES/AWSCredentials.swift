// An AWS access key, and the promise that its secret parts never get printed.
//
// Credentials flow from resolution (see AWSCredentials+Resolution.swift) into
// the signer. Every textual form — description, debugDescription, and the
// mirror that `dump` and string interpolation of containing values use —
// shows the access key id (an identifier, which operators need to tell keys
// apart) and replaces the secret and the session token with `<redacted>`.

/// An access key id, its secret, and an optional session token.
public struct AWSCredentials: Sendable, Equatable {
    /// The access key id, such as `AKIAIOSFODNN7EXAMPLE`; not secret.
    public var accessKeyId: String

    /// The secret access key; never printed.
    public var secretAccessKey: String

    /// The session token of temporary credentials; never printed.
    public var sessionToken: String?

    /// Creates credentials.
    ///
    /// - Parameters:
    ///   - accessKeyId: The access key id.
    ///   - secretAccessKey: The secret access key.
    ///   - sessionToken: The session token, for temporary credentials only.
    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

extension AWSCredentials: CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The key id with the secret and the token redacted.
    public var description: String {
        let token = sessionToken == nil ? "none" : "<redacted>"
        return "AWSCredentials(accessKeyId: \(accessKeyId), secretAccessKey: <redacted>, "
            + "sessionToken: \(token))"
    }

    /// The same as `description`: the secret and the token are redacted here too.
    public var debugDescription: String { description }

    /// A mirror whose children hide the secret and the token.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accessKeyId": accessKeyId,
                "secretAccessKey": "<redacted>",
                "sessionToken": sessionToken == nil ? "none" : "<redacted>",
            ])
    }
}

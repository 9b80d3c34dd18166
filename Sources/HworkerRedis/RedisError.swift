/// A failure talking to Redis.
///
/// `connect` and `transport` mean the connection is unusable and must be
/// reopened; `reply` is an error answer from a healthy server (wrong type,
/// OOM, READONLY, NOSCRIPT) and leaves the connection usable.
public enum RedisError: Error, Sendable, CustomStringConvertible {
    /// The connection could not be opened; `address` never includes a password.
    case connect(address: String, reason: String)
    /// Reading or writing failed, or the server closed the connection.
    case transport(reason: String)
    /// The server answered the named command with an error.
    case reply(command: String, message: String)
    /// The server answered with a shape the caller did not expect.
    case unexpected(command: String, reply: String)

    /// A one-line description for logs and command-line errors.
    public var description: String {
        switch self {
        case .connect(let address, let reason):
            return "cannot connect to Redis at \(address): \(reason)"
        case .transport(let reason):
            return "Redis connection failed: \(reason)"
        case .reply(let command, let message):
            return "Redis refused \(command): \(message)"
        case .unexpected(let command, let reply):
            return "unexpected Redis reply to \(command): \(reply)"
        }
    }

    /// Whether the connection that raised this error must be reopened.
    public var isConnectionLost: Bool {
        switch self {
        case .connect, .transport: return true
        case .reply, .unexpected: return false
        }
    }
}

// Replies from Redis as Swift values.
//
// Error replies from the server (`-ERR ...`) are values here, kept apart from
// transport failures, which `RedisConnection` throws as `RedisError`.

/// One reply from Redis, in RESP2 terms.
public enum RedisReply: Sendable, Equatable {
    /// A bulk string, kept as bytes because values may be binary.
    case bulk([UInt8])
    /// A status line such as `OK`.
    case status(String)
    /// An integer.
    case integer(Int64)
    /// A nested list of replies.
    case array([RedisReply])
    /// A nil bulk string or nil array.
    case null
    /// An error reply sent by the server, such as `NOSCRIPT ...` or `OOM ...`.
    case error(String)

    /// The reply as text when it is a bulk string or status, `nil` otherwise.
    public var string: String? {
        switch self {
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        default: return nil
        }
    }

    /// The reply as an integer when it is one, or a bulk string holding one.
    public var integer: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulk: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// The elements of an array reply; empty for anything else.
    public var elements: [RedisReply] {
        if case .array(let items) = self { return items }
        return []
    }

    /// The reply itself, or a thrown `RedisError.reply` when the server answered with an error.
    ///
    /// - Parameter command: The command name, for the error message.
    /// - Returns: The reply when it is not an error.
    /// - Throws: `RedisError.reply` carrying the server's message.
    @discardableResult
    public func checked(_ command: String) throws(RedisError) -> RedisReply {
        if case .error(let message) = self { throw .reply(command: command, message: message) }
        return self
    }
}

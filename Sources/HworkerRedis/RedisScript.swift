// Lua scripts run with EVALSHA, loading them once per connection and again
// after NOSCRIPT (a restarted Redis forgets its script cache).

/// A Lua script and the digest Redis gave it.
public final class RedisScript {
    /// The script's Lua source.
    public let source: String
    private var digest: String?

    /// Creates a script from its source; nothing is sent until it first runs.
    public init(_ source: String) {
        self.source = source
    }

    /// Runs the script on a connection.
    ///
    /// - Parameters:
    ///   - connection: The connection to run on.
    ///   - keys: The keys the script touches.
    ///   - arguments: The script's other arguments.
    /// - Returns: The script's reply; a Lua error comes back as `RedisError.reply`.
    /// - Throws: `RedisError` when the connection fails or the script raises an error.
    @discardableResult
    public func run(
        on connection: RedisConnection, keys: [String], arguments: [RedisArgument]
    ) throws(RedisError) -> RedisReply {
        let digest = try loaded(on: connection)
        let tail = keys.map { RedisArgument($0) } + arguments
        let head: [RedisArgument] = ["EVALSHA", RedisArgument(digest), RedisArgument(keys.count)]
        let reply = try connection.command(head + tail)
        if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
            self.digest = nil
            let again = try loaded(on: connection)
            let retry: [RedisArgument] = [
                "EVALSHA", RedisArgument(again), RedisArgument(keys.count),
            ]
            return try connection.command(retry + tail).checked("EVALSHA")
        }
        return try reply.checked("EVALSHA")
    }

    private func loaded(on connection: RedisConnection) throws(RedisError) -> String {
        if let digest { return digest }
        let reply = try connection.command(["SCRIPT", "LOAD", RedisArgument(source)])
        guard let digest = try reply.checked("SCRIPT LOAD").string else {
            throw .unexpected(command: "SCRIPT LOAD", reply: "\(reply)")
        }
        self.digest = digest
        return digest
    }
}

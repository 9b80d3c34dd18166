// A synchronous Redis connection over hiredis.
//
// Every process of hworker-ses is single-threaded, so a connection is used
// from one thread only and calls block. A command that must not block the
// caller's event loop (the blocking fetch of a worker) is split into `send`
// and `receive`, with the socket exposed for `poll`. After a transport error
// the connection is closed and every later call fails until the owner opens a
// new one; hiredis keeps its error on the context, and we copy it at once.

import CHiredis
import Glibc

/// One connection to a Redis server.
public final class RedisConnection {
    private var context: UnsafeMutablePointer<redisContext>?

    /// The options the connection was opened with.
    public let options: RedisOptions

    /// Opens a connection, logs in and selects the database.
    ///
    /// - Parameter options: Where the server is and how to log in.
    /// - Throws: `RedisError.connect` when the server cannot be reached or refuses the login;
    ///   the message never contains the password.
    public init(options: RedisOptions) throws(RedisError) {
        self.options = options
        let timeout = Self.timeval(seconds: options.connectTimeout)
        let opened: UnsafeMutablePointer<redisContext>?
        switch options.address {
        case .tcp(let host, let port):
            opened = redisConnectWithTimeout(host, Int32(port), timeout)
        case .unix(let path):
            opened = redisConnectUnixWithTimeout(path, timeout)
        }
        guard let opened else {
            throw .connect(address: options.address.description, reason: "out of memory")
        }
        context = opened
        if opened.pointee.err != 0 {
            let reason = Self.errorText(opened)
            close()
            throw .connect(address: options.address.description, reason: reason)
        }
        redisSetTimeout(opened, Self.timeval(seconds: options.commandTimeout))
        do {
            try login()
        } catch {
            close()
            throw .connect(address: options.address.description, reason: error.loginReason)
        }
    }

    deinit {
        close()
    }

    /// The socket, for `poll`, or -1 once the connection is closed.
    public var fileDescriptor: Int32 { context.map { $0.pointee.fd } ?? -1 }

    /// Whether the connection can still be used.
    public var isOpen: Bool { context != nil }

    /// Closes the connection; later calls throw `RedisError.transport`.
    public func close() {
        if let context { redisFree(context) }
        context = nil
    }

    /// Runs one command and waits for its reply.
    ///
    /// - Parameter arguments: The command name and its arguments.
    /// - Returns: The reply, which may be a server error reply.
    /// - Throws: `RedisError.transport` when the connection failed; it is then closed.
    @discardableResult
    public func command(_ arguments: [RedisArgument]) throws(RedisError) -> RedisReply {
        try send(arguments)
        return try receive()
    }

    /// Runs one command given as strings; see `command(_:)`.
    @discardableResult
    public func command(_ arguments: String...) throws(RedisError) -> RedisReply {
        try command(arguments.map { RedisArgument($0) })
    }

    /// Sends several commands in one write and collects their replies in order.
    ///
    /// - Parameter commands: The commands, each a name with its arguments.
    /// - Returns: One reply per command.
    /// - Throws: `RedisError.transport` when the connection failed.
    public func pipeline(_ commands: [[RedisArgument]]) throws(RedisError) -> [RedisReply] {
        try send(pipeline: commands)
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands { replies.append(try receive()) }
        return replies
    }

    /// Writes one command without waiting for its reply.
    ///
    /// - Parameter arguments: The command name and its arguments.
    /// - Throws: `RedisError.transport` when the write failed.
    public func send(_ arguments: [RedisArgument]) throws(RedisError) {
        try append(arguments)
        try flush()
    }

    /// Writes several commands in one write without waiting for their replies.
    ///
    /// - Parameter commands: The commands; read their replies with `receive()` in order.
    /// - Throws: `RedisError.transport` when the write failed.
    public func send(pipeline commands: [[RedisArgument]]) throws(RedisError) {
        for arguments in commands { try append(arguments) }
        try flush()
    }

    /// Waits for the next reply to a command written earlier.
    ///
    /// - Returns: The reply, which may be a server error reply.
    /// - Throws: `RedisError.transport` when the read failed or timed out.
    public func receive() throws(RedisError) -> RedisReply {
        let context = try openContext()
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
            throw fail(context)
        }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    /// Whether a reply is already read and waiting in hiredis's buffer, so
    /// `poll` on the socket would not see it.
    public var hasBufferedReply: Bool {
        guard let context, let reader = context.pointee.reader else { return false }
        return reader.pointee.pos < reader.pointee.len
    }

    private func append(_ arguments: [RedisArgument]) throws(RedisError) {
        let context = try openContext()
        let status = arguments.withArgv { argc, argv, lengths in
            redisAppendCommandArgv(context, argc, argv, lengths)
        }
        if status != REDIS_OK { throw fail(context) }
    }

    private func flush() throws(RedisError) {
        let context = try openContext()
        var done: Int32 = 0
        while done == 0 {
            if redisBufferWrite(context, &done) != REDIS_OK { throw fail(context) }
        }
    }

    private func openContext() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        guard let context else { throw .transport(reason: "connection is closed") }
        return context
    }

    /// Copies hiredis's error, closes the connection and returns the error to throw.
    private func fail(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        var reason = Self.errorText(context)
        if reason.contains("temporarily unavailable") {
            reason = "no answer within \(options.commandTimeout) s"
        }
        close()
        return .transport(reason: "\(options.address): \(reason)")
    }

    private func login() throws(RedisError) {
        if let password = options.password {
            var arguments: [RedisArgument] = ["AUTH"]
            if let user = options.user { arguments.append(RedisArgument(user)) }
            arguments.append(RedisArgument(password))
            // The reply is checked without echoing the command's arguments.
            if case .error(let message) = try command(arguments) {
                throw .reply(command: "AUTH", message: message)
            }
        }
        if options.database != 0 {
            try command(["SELECT", RedisArgument(String(options.database))]).checked("SELECT")
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "connection closed" : text
    }

    private static func timeval(seconds: Double) -> Glibc.timeval {
        let whole = seconds.rounded(.down)
        return Glibc.timeval(tv_sec: Int(whole), tv_usec: Int((seconds - whole) * 1_000_000))
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .bulk(bytes(r.str, r.len))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: bytes(r.str, r.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes(r.str, r.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(r.integer)
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                if let element = r.element?[index] { items.append(convert(element)) }
            }
            return .array(items)
        default:
            return .null
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: count) {
            Array(UnsafeBufferPointer(start: $0, count: count))
        }
    }
}

extension RedisError {
    /// The reason a login failed, without anything the user sent.
    fileprivate var loginReason: String {
        switch self {
        case .reply(_, let message): return message
        default: return description
        }
    }
}

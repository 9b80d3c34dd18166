// The queue operations of a monitor process: return the jobs of workers
// whose heartbeat expired, and move delayed jobs that are due back to the
// queue. Both are single scripts, so any number of monitors on any number of
// servers may run them at once.

import HworkerRedis

/// The queue operations of one monitor, over its own Redis connection.
public final class MonitorSession {
    /// The queue's keys.
    public let keys: QueueKeys
    private let options: RedisOptions
    private var connection: RedisConnection?
    private let recoverScript = RedisScript(QueueScripts.recover)
    private let promoteScript = RedisScript(QueueScripts.promote)

    /// Creates a session; it connects on first use.
    ///
    /// - Parameters:
    ///   - keys: The queue's keys.
    ///   - redis: Where Redis is.
    public init(keys: QueueKeys, redis: RedisOptions) {
        self.keys = keys
        self.options = redis
    }

    /// Drops the connection so that the next call opens a new one.
    public func disconnect() {
        connection?.close()
        connection = nil
    }

    /// Returns the in-flight jobs of every worker whose heartbeat expired to the queue.
    ///
    /// - Returns: How many jobs were returned.
    /// - Throws: `RedisError`.
    public func recoverDeadWorkers() throws(RedisError) -> Int {
        let reply = try recoverScript.run(
            on: try connected(), keys: [keys.workers, keys.queue, keys.stats],
            arguments: [RedisArgument(keys.prefix)])
        return Int(reply.integer ?? 0)
    }

    /// Moves up to `limit` due delayed jobs to the front of the queue.
    ///
    /// - Parameter limit: The most jobs moved in one call.
    /// - Returns: How many moved, and the milliseconds until the next one is
    ///   due (`nil` when none waits).
    /// - Throws: `RedisError`.
    public func promoteDueJobs(limit: Int) throws(RedisError) -> (moved: Int, nextDue: Int?) {
        let reply = try promoteScript.run(
            on: try connected(), keys: [keys.delayed, keys.queue],
            arguments: [RedisArgument(limit)])
        let parts = reply.elements
        guard parts.count == 2, let moved = parts[0].integer, let next = parts[1].integer else {
            throw .unexpected(command: "promote script", reply: "\(reply)")
        }
        return (Int(moved), next < 0 ? nil : Int(next))
    }

    /// Pauses sending on every server for `seconds`.
    ///
    /// - Parameters:
    ///   - reason: Why.
    ///   - seconds: How long until sending is tried again.
    /// - Throws: `RedisError`.
    public func pauseSending(reason: String, seconds: Double) throws(RedisError) {
        try connected().command([
            "SET", RedisArgument(keys.sesPause), RedisArgument("account: " + reason), "PX",
            RedisArgument(max(1, Int(seconds * 1000))),
        ]).checked("SET")
    }

    /// Lifts a pause SES caused.
    ///
    /// - Returns: Whether there was one.
    /// - Throws: `RedisError`.
    public func liftSESPause() throws(RedisError) -> Bool {
        try connected().command("DEL", keys.sesPause).checked("DEL").integer == 1
    }

    /// Records what the last SES account check found, as JSON.
    ///
    /// - Parameter json: The account state.
    /// - Throws: `RedisError`.
    public func recordAccount(_ json: String) throws(RedisError) {
        try connected().command("SET", keys.sesAccount, json).checked("SET")
    }

    /// Makes sure the queue's epoch marker exists.
    ///
    /// The marker is created once and never deleted, so finding it missing after it was
    /// seen means Redis lost its data (a restart without persistence, or a flush).
    ///
    /// - Returns: Whether the marker had to be created.
    /// - Throws: `RedisError`.
    public func ensureEpochMarker() throws(RedisError) -> Bool {
        let reply = try connected().command("SET", keys.epoch, "1", "NX").checked("SET")
        return reply == .status("OK")
    }

    private func connected() throws(RedisError) -> RedisConnection {
        if let connection, connection.isOpen { return connection }
        let opened = try RedisConnection(options: options)
        connection = opened
        return opened
    }
}

// The Redis keys of one queue.
//
// Every key carries the queue name as a hash tag (`hworker:{mail}:queue`), so
// all keys of a queue live in one Redis Cluster slot and the Lua scripts that
// touch several of them stay legal there.

/// The names of the Redis keys that hold one queue.
public struct QueueKeys: Sendable, Equatable {
    /// The queue's name, as configured.
    public let name: String

    /// The common prefix, `hworker:{<name>}:`.
    public let prefix: String

    /// Creates the key names for a queue.
    ///
    /// - Parameter name: Letters, digits and `_ - . :`, 1 to 100 characters.
    /// - Throws: `QueueNameError` when the name has other characters.
    public init(name: String) throws(QueueNameError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
                || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F || byte == 0x2D
                || byte == 0x2E || byte == 0x3A
        }
        guard allowed, (1...100).contains(name.utf8.count) else { throw QueueNameError(name: name) }
        self.name = name
        prefix = "hworker:{\(name)}:"
    }

    /// The list producers push jobs onto (LPUSH) and workers take them from (right end).
    public var queue: String { prefix + "queue" }
    /// The sorted set of jobs waiting for a retry or their send-at time, scored by due time in ms.
    public var delayed: String { prefix + "delayed" }
    /// The list of dead letters, newest first.
    public var dead: String { prefix + "dead" }
    /// The set of registered worker ids.
    public var workers: String { prefix + "workers" }
    /// The hash of attempt counts by job id.
    public var attempts: String { prefix + "attempts" }
    /// The hash of counters (`sent`, `retried`, `dead`, `enqueued`, `recovered`).
    public var stats: String { prefix + "stats" }
    /// The stream of delivery events.
    public var events: String { prefix + "events" }
    /// Set by an operator (`hworker-ses pause`): no worker takes jobs while it exists;
    /// JSON `{"reason", "paused_at"}`.
    public var paused: String { prefix + "paused" }
    /// Set by a worker when SES refuses to send for now (quota, paused account,
    /// credentials); it expires when sending should be tried again.
    public var sesPause: String { prefix + "ses_pause" }
    /// A marker created once per queue and never deleted: when it disappears,
    /// Redis lost its data.
    public var epoch: String { prefix + "epoch" }
    /// The cluster-wide rate limiter's theoretical arrival time (µs, Redis clock).
    public var clusterRate: String { prefix + "cluster_rate" }
    /// What the last SES account check found (rate, quota, whether sending is enabled).
    public var sesAccount: String { prefix + "ses_account" }

    /// The list holding the jobs a worker has taken and not yet finished.
    public func inFlight(worker: String) -> String { prefix + "inflight:" + worker }
    /// The key whose expiry tells that a worker stopped sending heartbeats.
    public func heartbeat(worker: String) -> String { prefix + "hb:" + worker }
    /// What a worker's last acknowledge or fail script did, under the token of the call,
    /// so that a call repeated after a lost answer is not applied twice.
    public func mark(worker: String) -> String { prefix + "mark:" + worker }
    /// The key recording the outcome of a sent job.
    public func result(job: String) -> String { prefix + "result:" + job }
}

/// A queue name with characters that cannot go into a Redis hash tag.
public struct QueueNameError: Error, Sendable, CustomStringConvertible {
    /// The rejected name.
    public let name: String

    /// Explains which names are allowed.
    public var description: String {
        "invalid queue name \"\(name)\": use 1 to 100 letters, digits, '_', '-', '.' or ':'"
    }
}

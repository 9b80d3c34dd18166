// What `MailQueue.stats()` reports: one consistent snapshot of a queue's
// keys, plus counts of the last minute's delivery events.
//
// The JSON form (`hworker-ses stats --json`) is a documented interface: keys
// are snake_case, every key is always present (`null` when unknown), times
// are milliseconds since the epoch on the Redis server's clock, and `version`
// changes only when a key is removed or changes meaning.

/// A snapshot of a queue's state and counters.
public struct QueueStats: Sendable, Equatable, Encodable {
    /// The version of the JSON shape; new keys may appear without a change.
    public static let formatVersion = 1

    /// The queue's name.
    public var queue: String
    /// When the snapshot was taken, on the Redis server's clock.
    public var time: QueueTime
    /// Whether sending is paused, and why; `nil` while workers send.
    public var paused: PauseState?
    /// Jobs waiting in the queue.
    public var queued: Int
    /// Jobs held by registered workers.
    public var inFlight: Int
    /// Jobs in the delayed set: retries and scheduled jobs.
    public var delayed: Int
    /// When the earliest delayed job is due; `nil` when none waits.
    public var nextDue: QueueTime?
    /// Dead letters kept.
    public var deadLetters: Int
    /// The queue's counters since it was created.
    public var counters: QueueCounters
    /// Every registered worker, sorted by host, master PID, slot and generation.
    public var workers: [WorkerState]
    /// Why sending is paused because SES refused (quota, paused account,
    /// credentials), until the `ses_pause` key expires; `nil` when it is not.
    public var sesPause: String?
    /// What the last SES account check read, as the monitor stored it (JSON with
    /// `max_send_rate`, `max_24_hour_send`, `sent_last_24_hours`, `sending_enabled`).
    public var sesAccount: SESAccountSnapshot?
    /// This server's rate segment, when `stats` runs where a master runs.
    public var server: ServerRate?

    /// Creates a snapshot; the library fills it in `MailQueue.stats()`.
    ///
    /// - Parameters:
    ///   - queue: The queue's name.
    ///   - time: When the snapshot was taken.
    ///   - paused: The pause flag, if set.
    ///   - queued: Jobs in the queue.
    ///   - inFlight: Jobs held by workers.
    ///   - delayed: Jobs in the delayed set.
    ///   - nextDue: When the earliest delayed job is due.
    ///   - deadLetters: Dead letters kept.
    ///   - counters: The counters.
    ///   - workers: The registered workers.
    public init(
        queue: String, time: QueueTime, paused: PauseState?, queued: Int, inFlight: Int,
        delayed: Int, nextDue: QueueTime?, deadLetters: Int, counters: QueueCounters,
        workers: [WorkerState]
    ) {
        self.queue = queue
        self.time = time
        self.paused = paused
        self.queued = queued
        self.inFlight = inFlight
        self.delayed = delayed
        self.nextDue = nextDue
        self.deadLetters = deadLetters
        self.counters = counters
        self.workers = workers
    }

    private enum CodingKeys: String, CodingKey {
        case version, queue, time, paused, queued, delayed, counters, workers, server
        case sesPause = "ses_pause"
        case sesAccount = "ses_account"
        case inFlight = "in_flight"
        case nextDue = "next_due"
        case deadLetters = "dead_letters"
        case registeredWorkers = "registered_workers"
    }

    /// Encodes the documented JSON shape, with `null` for unknown values.
    ///
    /// - Parameter encoder: The encoder.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.formatVersion, forKey: .version)
        try container.encode(queue, forKey: .queue)
        try container.encode(time, forKey: .time)
        try container.encode(paused, forKey: .paused)
        try container.encode(queued, forKey: .queued)
        try container.encode(inFlight, forKey: .inFlight)
        try container.encode(delayed, forKey: .delayed)
        try container.encode(nextDue, forKey: .nextDue)
        try container.encode(deadLetters, forKey: .deadLetters)
        try container.encode(counters, forKey: .counters)
        try container.encode(workers.count, forKey: .registeredWorkers)
        try container.encode(sesPause, forKey: .sesPause)
        try container.encode(sesAccount, forKey: .sesAccount)
        try container.encode(server, forKey: .server)
        try container.encode(workers, forKey: .workers)
    }
}

/// A counter's total and its count over the last minute.
public struct Counter: Sendable, Equatable, Encodable {
    /// The count since the queue was created.
    public var total: Int
    /// The count over the 60 seconds before the snapshot, from the events
    /// stream; `nil` for counters that have no events.
    public var lastMinute: Int?

    /// Creates a counter value.
    ///
    /// - Parameters:
    ///   - total: The count since the queue was created.
    ///   - lastMinute: The count over the last minute, if known.
    public init(total: Int, lastMinute: Int?) {
        self.total = total
        self.lastMinute = lastMinute
    }

    private enum CodingKeys: String, CodingKey {
        case total
        case lastMinute = "last_minute"
    }

    /// Encodes `{"total", "last_minute"}`, `last_minute` being `null` when unknown.
    ///
    /// - Parameter encoder: The encoder.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(total, forKey: .total)
        try container.encode(lastMinute, forKey: .lastMinute)
    }
}

/// The counters of a queue (the `stats` hash), with last-minute counts for
/// those that publish events.
public struct QueueCounters: Sendable, Equatable, Encodable {
    /// Jobs acknowledged as sent.
    public var sent: Counter
    /// Attempts that ended in a retry (including throttled ones).
    public var retried: Counter
    /// Jobs moved to the dead letters.
    public var dead: Counter
    /// Jobs returned to the queue from workers whose heartbeat expired;
    /// no events, so no last-minute count.
    public var recovered: Counter
    /// Jobs taken again after they were sent and dropped unsent; no events.
    public var duplicatesSkipped: Counter

    /// Creates the counters.
    ///
    /// - Parameters:
    ///   - sent: Jobs sent.
    ///   - retried: Retries.
    ///   - dead: Dead letters made.
    ///   - recovered: Jobs recovered from dead workers.
    ///   - duplicatesSkipped: Jobs not sent again.
    public init(
        sent: Counter, retried: Counter, dead: Counter, recovered: Counter,
        duplicatesSkipped: Counter
    ) {
        self.sent = sent
        self.retried = retried
        self.dead = dead
        self.recovered = recovered
        self.duplicatesSkipped = duplicatesSkipped
    }

    private enum CodingKeys: String, CodingKey {
        case sent, retried, dead, recovered
        case duplicatesSkipped = "duplicates_skipped"
    }
}

/// One registered worker as the queue sees it.
///
/// `host`, `masterPID`, `slot` and `generation` come from the worker id
/// (`host:masterpid:slot.generation`); they are `nil` for an id of another form.
public struct WorkerState: Sendable, Equatable, Encodable {
    /// The worker id as registered.
    public var id: String
    /// The host the worker runs on.
    public var host: String
    /// The PID of the worker's master.
    public var masterPID: Int?
    /// The worker's slot on its master.
    public var slot: Int?
    /// The generation of children the worker belongs to (it grows with each reload).
    public var generation: Int?
    /// Milliseconds until the heartbeat expires; `nil` once it has expired
    /// (a monitor will return the worker's job to the queue).
    public var heartbeatTTL: Int?
    /// Jobs in the worker's in-flight list (one while it sends, else zero).
    public var inFlight: Int
    /// The id of the job the worker holds, if any.
    public var job: String?
    /// Since when the worker holds its job.
    ///
    /// - Note: Always `nil` for now: workers do not yet record when they took
    ///   a job. The key stays in the JSON shape so that readers need no change
    ///   once they do.
    public var since: QueueTime?

    /// Whether the worker's heartbeat is current.
    public var isAlive: Bool { heartbeatTTL != nil }

    /// Creates a worker's state from its id; the other fields start empty.
    ///
    /// - Parameter id: The worker id, normally `host:masterpid:slot.generation`.
    public init(id: String) {
        self.id = id
        inFlight = 0
        let parts = id.split(separator: ":", omittingEmptySubsequences: false)
        let tail = parts.last?.split(separator: ".", omittingEmptySubsequences: false) ?? []
        guard parts.count >= 3, tail.count == 2, let pid = Int(parts[parts.count - 2]),
            let slot = Int(tail[0]), let generation = Int(tail[1])
        else {
            host = id
            return
        }
        host = parts.dropLast(2).joined(separator: ":")
        masterPID = pid
        self.slot = slot
        self.generation = generation
    }

    private enum CodingKeys: String, CodingKey {
        case id, host, slot, generation, alive, job, since
        case masterPID = "master_pid"
        case heartbeatTTL = "heartbeat_ttl_ms"
        case inFlight = "in_flight"
    }

    /// Encodes the documented JSON shape, with `null` for unknown values.
    ///
    /// - Parameter encoder: The encoder.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(host, forKey: .host)
        try container.encode(masterPID, forKey: .masterPID)
        try container.encode(slot, forKey: .slot)
        try container.encode(generation, forKey: .generation)
        try container.encode(isAlive, forKey: .alive)
        try container.encode(heartbeatTTL, forKey: .heartbeatTTL)
        try container.encode(inFlight, forKey: .inFlight)
        try container.encode(job, forKey: .job)
        try container.encode(since, forKey: .since)
    }
}

/// Why and since when sending is paused.
public struct PauseState: Sendable, Equatable, Codable {
    /// The operator's reason, if one was given.
    public var reason: String?
    /// When sending was paused, on the Redis server's clock; `nil` when the
    /// flag was set by other means and holds no readable time.
    public var pausedAt: QueueTime?

    /// Creates a pause state.
    ///
    /// - Parameters:
    ///   - reason: The reason, if any.
    ///   - pausedAt: When sending was paused.
    public init(reason: String?, pausedAt: QueueTime?) {
        self.reason = reason
        self.pausedAt = pausedAt
    }

    private enum CodingKeys: String, CodingKey {
        case reason
        case pausedAt = "paused_at"
    }

    /// Decodes the flag's JSON value.
    ///
    /// - Parameter decoder: The decoder.
    /// - Throws: `DecodingError` when the value is not an object or a field has the wrong type.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        pausedAt = try container.decodeIfPresent(QueueTime.self, forKey: .pausedAt)
    }

    /// Encodes `{"reason", "paused_at"}`, either being `null` when unknown.
    ///
    /// - Parameter encoder: The encoder.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(reason, forKey: .reason)
        try container.encode(pausedAt, forKey: .pausedAt)
    }
}

/// The SES account as the monitor's last check read it.
public struct SESAccountSnapshot: Sendable, Equatable, Codable {
    /// Recipients per second SES allows.
    public var maxSendRate: Double
    /// Recipients per 24 hours SES allows; negative means unlimited.
    public var max24HourSend: Double
    /// Recipients sent in the last 24 hours.
    public var sentLast24Hours: Double
    /// Whether SES lets the account send.
    public var sendingEnabled: Bool

    private enum CodingKeys: String, CodingKey {
        case maxSendRate = "max_send_rate"
        case max24HourSend = "max_24_hour_send"
        case sentLast24Hours = "sent_last_24_hours"
        case sendingEnabled = "sending_enabled"
    }
}

/// The send rate of the server `stats` runs on, read from its shared-memory segment.
public struct ServerRate: Sendable, Equatable, Encodable {
    /// The master whose segment this is.
    public var masterPID: Int32
    /// Recipients per second configured.
    public var configured: Double
    /// Recipients per second in use after throttling feedback.
    public var effective: Double
    /// How far ahead of now sends are already reserved, in seconds: 0 while the bucket
    /// has room, growing while workers wait for it.
    public var reservedAheadSeconds: Double

    /// Creates a reading.
    public init(
        masterPID: Int32, configured: Double, effective: Double, reservedAheadSeconds: Double
    ) {
        self.masterPID = masterPID
        self.configured = configured
        self.effective = effective
        self.reservedAheadSeconds = reservedAheadSeconds
    }

    private enum CodingKeys: String, CodingKey {
        case configured, effective
        case masterPID = "master_pid"
        case reservedAheadSeconds = "reserved_ahead_s"
    }
}

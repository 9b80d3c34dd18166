// The queue operations of one worker process.
//
// A worker registers under an id, takes jobs with a blocking move from the
// queue into its own in-flight list, and ends each job with one script:
// acknowledge, retry or dead letter. Its heartbeat key expires when it stops
// refreshing it, and a monitor then returns its in-flight jobs to the queue.
// The blocking take is split in two so that the worker can wait on the Redis
// socket and on its signals at once.

import FoundationEssentials
import HworkerRedis

/// What a worker decided about a job it could not send.
public enum FailureMode: String, Sendable {
    /// A transient failure: count an attempt and retry with backoff.
    case retry
    /// SES throttled the send: retry soon without counting an attempt.
    case throttle
    /// A permanent failure or a malformed job: move it to the dead letters.
    case dead
}

/// What became of a job that was not sent.
public enum FailureOutcome: Sendable, Equatable {
    /// The job waits in the delayed set.
    case retried(attempts: Int, delayMilliseconds: Int)
    /// The job is in the dead letters.
    case dead(attempts: Int)
}

/// A job SES accepted, waiting for its acknowledgement.
public struct SentJob: Sendable {
    /// The job's bytes as taken.
    public var raw: [UInt8]
    /// The job's id.
    public var id: String
    /// The SES message id.
    public var messageID: String
    /// The job's payload, or empty.
    public var payload: String
    /// The message's recipient count.
    public var recipients: Int
    /// How long the send took.
    public var elapsedMilliseconds: Int
    /// When the send started, in µs since the epoch on the worker's clock; rate checks
    /// read it from the events stream.
    public var startedMicroseconds: Int64

    /// Describes an accepted send.
    ///
    /// - Parameters:
    ///   - raw: The job's bytes as taken.
    ///   - job: The decoded job.
    ///   - messageID: The SES message id.
    ///   - elapsedMilliseconds: How long the send took.
    ///   - startedMicroseconds: When the send started (µs since the epoch).
    public init(
        raw: [UInt8], job: Job, messageID: String, elapsedMilliseconds: Int = 0,
        startedMicroseconds: Int64 = 0
    ) {
        self.raw = raw
        id = job.id
        self.messageID = messageID
        payload = job.payload ?? ""
        recipients = job.email.recipientCount
        self.elapsedMilliseconds = elapsedMilliseconds
        self.startedMicroseconds = startedMicroseconds
    }
}

/// A job moved from the queue into a worker's in-flight list.
public struct TakenJob: Sendable {
    /// The job's bytes.
    public var raw: [UInt8]
    /// Whether the job's result is already recorded (it was sent before); nil when
    /// its id could not be read in Redis.
    public var wasSent: Bool?

    /// Describes a taken job.
    ///
    /// - Parameters:
    ///   - raw: The job's bytes.
    ///   - wasSent: Whether its result is recorded, if known.
    public init(raw: [UInt8], wasSent: Bool?) {
        self.raw = raw
        self.wasSent = wasSent
    }
}

/// The queue operations of one worker, over its own Redis connection.
public final class WorkerSession {
    /// The worker's id, unique across hosts and processes.
    public let workerID: String
    /// The queue's keys.
    public let keys: QueueKeys
    /// How failed jobs are retried.
    public var retry: RetryPolicy
    /// How long the heartbeat lasts without a refresh, in milliseconds.
    public var heartbeatTTL: Int
    /// How long the result of a sent job is kept, in seconds.
    public var resultTTL: Int
    /// The approximate length the events stream is trimmed to.
    public var eventsMaxLength: Int

    private let options: RedisOptions
    private var tokens = 0
    /// Tells this session's tokens from those of an earlier process with the same worker id.
    private let session = String(UInt64.random(in: 1...UInt64.max), radix: 36)
    private var connection: RedisConnection?
    private let registerScript = RedisScript(QueueScripts.register)
    private let unregisterScript = RedisScript(QueueScripts.unregister)
    private let acknowledgeScript = RedisScript(QueueScripts.acknowledge)
    private let failScript = RedisScript(QueueScripts.fail)
    private let dropDuplicateScript = RedisScript(QueueScripts.dropDuplicate)
    private let clusterReserveScript = RedisScript(QueueScripts.clusterReserve)

    /// Creates a session; it connects on first use.
    ///
    /// - Parameters:
    ///   - workerID: The worker's id (host, master PID, slot and generation).
    ///   - keys: The queue's keys.
    ///   - redis: Where Redis is.
    ///   - retry: How failed jobs are retried.
    ///   - heartbeatTTL: Heartbeat lifetime in milliseconds.
    ///   - resultTTL: How long results are kept, in seconds.
    ///   - eventsMaxLength: The approximate cap of the events stream.
    public init(
        workerID: String, keys: QueueKeys, redis: RedisOptions, retry: RetryPolicy,
        heartbeatTTL: Int, resultTTL: Int, eventsMaxLength: Int
    ) {
        self.workerID = workerID
        self.keys = keys
        self.options = redis
        self.retry = retry
        self.heartbeatTTL = heartbeatTTL
        self.resultTTL = resultTTL
        self.eventsMaxLength = eventsMaxLength
    }

    /// The open connection, opening one when there is none.
    ///
    /// - Throws: `RedisError.connect` when Redis cannot be reached.
    public func connected() throws(RedisError) -> RedisConnection {
        if let connection, connection.isOpen { return connection }
        let opened = try RedisConnection(options: options)
        connection = opened
        return opened
    }

    /// Drops the connection, for example after the worker was told to stop
    /// while a blocking take was outstanding.
    public func disconnect() {
        connection?.close()
        connection = nil
    }

    /// Registers the worker and returns jobs a dead predecessor with the same id left in flight.
    ///
    /// - Returns: How many jobs went back to the queue.
    /// - Throws: `RedisError`.
    @discardableResult
    public func register() throws(RedisError) -> Int {
        let reply = try registerScript.run(
            on: try connected(), keys: workerKeys,
            arguments: [RedisArgument(workerID), RedisArgument(heartbeatTTL)])
        return Int(reply.integer ?? 0)
    }

    /// Returns anything still in flight to the queue and removes the worker's registration.
    ///
    /// - Throws: `RedisError`.
    public func unregister() throws(RedisError) {
        try unregisterScript.run(
            on: try connected(), keys: workerKeys, arguments: [RedisArgument(workerID)])
    }

    /// Refreshes the heartbeat.
    ///
    /// - Throws: `RedisError`.
    public func heartbeat() throws(RedisError) {
        try connected().command(heartbeatCommand).checked("SET")
    }

    /// Refreshes the heartbeat and reads whether sending is paused, in one round trip.
    ///
    /// - Returns: Why sending is paused (the operator's pause first), or nil.
    /// - Throws: `RedisError`.
    public func checkIn() throws(RedisError) -> String? {
        let replies = try connected().pipeline([
            heartbeatCommand, ["MGET", RedisArgument(keys.paused), RedisArgument(keys.sesPause)],
        ])
        try replies[0].checked("SET")
        let states = try replies[1].checked("MGET").elements
        if let operatorPause = states.first?.string {
            return "paused by an operator: " + operatorPause
        }
        if states.count > 1, let sesPause = states[1].string { return "paused by SES: " + sesPause }
        return nil
    }

    /// Pauses sending on every server until `seconds` have passed.
    ///
    /// - Parameters:
    ///   - reason: Why, as SES said it.
    ///   - code: SES's error code.
    ///   - seconds: How long until sending is tried again.
    /// - Throws: `RedisError`.
    public func pauseSending(reason: String, code: String, seconds: Double) throws(RedisError) {
        let text = "\(code): \(reason)"
        try connected().command([
            "SET", RedisArgument(keys.sesPause), RedisArgument(text), "PX",
            RedisArgument(max(1, Int(seconds * 1000))),
        ]).checked("SET")
    }

    /// Writes a blocking take without waiting for the answer.
    ///
    /// Follow with `finishTake()` once the socket is readable.
    ///
    /// - Parameter timeout: How long Redis may block, in seconds.
    /// - Throws: `RedisError`.
    public func startTake(timeout: Double) throws(RedisError) {
        let take: [RedisArgument] = [
            "BLMOVE", RedisArgument(keys.queue), RedisArgument(keys.inFlight(worker: workerID)),
            "RIGHT", "LEFT", RedisArgument(String(timeout)),
        ]
        try connected().send(take)
    }

    /// Whether the take's answer is already buffered, so that waiting on the socket would hang.
    public var takeAnswerBuffered: Bool { connection?.hasBufferedReply ?? false }

    /// Reads the take's answer once the socket is readable.
    ///
    /// - Returns: The job's bytes, or `nil` when the take timed out with an empty queue.
    /// - Throws: `RedisError`.
    public func finishTake() throws(RedisError) -> [UInt8]? {
        switch try connected().receive().checked("BLMOVE") {
        case .bulk(let bytes): return bytes
        case .null: return nil
        case let other: throw .unexpected(command: "BLMOVE", reply: "\(other)")
        }
    }

    /// Whether a job with this id was already sent (its result is recorded).
    ///
    /// - Parameter jobID: The job's id.
    /// - Throws: `RedisError`.
    public func wasSent(jobID: String) throws(RedisError) -> Bool {
        let reply = try connected().command("EXISTS", keys.result(job: jobID)).checked("EXISTS")
        return reply.integer == 1
    }

    /// Reserves `recipients` in the cluster-wide rate shared by every master of the queue.
    ///
    /// - Parameters:
    ///   - recipients: The message's recipient count.
    ///   - rate: The cluster's recipients per second.
    ///   - burst: Extra recipients allowed at once after an idle period.
    /// - Returns: Microseconds to wait before sending.
    /// - Throws: `RedisError`.
    public func reserveClusterRate(recipients: Int, rate: Double, burst: Double) throws(RedisError)
        -> Int64
    {
        // The interval is stretched by 0.9 % so that jitter between hosts
        // cannot push a one-second window over the rate.
        let interval = 1e6 / max(rate, 0.001) * 1.009
        let reply = try clusterReserveScript.run(
            on: try connected(), keys: [keys.clusterRate],
            arguments: [
                RedisArgument(String(Int64(interval))),
                RedisArgument(String(Int64(interval * burst))),
                RedisArgument(max(1, recipients)),
            ])
        return max(0, reply.integer ?? 0)
    }

    /// Acknowledges, for a worker that died, jobs SES accepted before the worker could
    /// record them: finds each job in the worker's in-flight list by id and acknowledges it.
    ///
    /// - Parameter accepted: The job ids and SES message ids the worker reported.
    /// - Returns: How many of the jobs were found in flight and acknowledged.
    /// - Throws: `RedisError`.
    public func acknowledgeForDeadWorker(_ accepted: [(jobID: String, messageID: String)])
        throws(RedisError) -> Int
    {
        let inFlight = try connected().command("LRANGE", keys.inFlight(worker: workerID), "0", "-1")
            .checked("LRANGE").elements
        var found: [SentJob] = []
        for item in inFlight {
            guard case .bulk(let raw) = item, let job = try? Job.decode(raw),
                let match = accepted.first(where: { $0.jobID == job.id })
            else { continue }
            found.append(SentJob(raw: raw, job: job, messageID: match.messageID))
        }
        if !found.isEmpty { try acknowledge(found) }
        return found.count
    }

    /// Drops a taken job that was already sent, without sending it again.
    ///
    /// - Parameter raw: The job's bytes as taken.
    /// - Throws: `RedisError`.
    public func dropDuplicate(raw: [UInt8]) throws(RedisError) {
        try dropDuplicateScript.run(
            on: try connected(), keys: [keys.inFlight(worker: workerID), keys.stats],
            arguments: [RedisArgument(bytes: raw)])
    }

    /// Acknowledges one sent job and records its SES message id.
    ///
    /// - Parameters:
    ///   - raw: The job's bytes as taken.
    ///   - job: The decoded job.
    ///   - messageID: The SES message id.
    ///   - elapsedMilliseconds: How long the send took.
    /// - Throws: `RedisError`.
    public func acknowledge(raw: [UInt8], job: Job, messageID: String, elapsedMilliseconds: Int)
        throws(RedisError)
    {
        try acknowledge([
            SentJob(
                raw: raw, job: job, messageID: messageID, elapsedMilliseconds: elapsedMilliseconds)
        ])
    }

    /// Acknowledges sent jobs, recording their SES message ids, and takes up to `take`
    /// queued jobs into the in-flight list, all in one round trip.
    ///
    /// - Parameters:
    ///   - sent: The jobs SES accepted, in the order they were taken.
    ///   - inFlight: How many jobs the worker holds in flight, the sent ones included,
    ///     when all of them were taken by this session and the sent ones are the oldest;
    ///     the jobs are then removed by count, without sending their bytes again. Nil
    ///     removes each job by its bytes.
    ///   - take: How many queued jobs to move in flight (0 for none).
    ///   - token: The call's token (`newToken()`), the same when the call is repeated
    ///     after its answer was lost; nil for a new one.
    /// - Returns: The jobs taken, oldest first.
    /// - Throws: `RedisError`.
    @discardableResult
    public func acknowledge(
        _ sent: [SentJob], inFlight: Int? = nil, take: Int = 0, token: String? = nil
    ) throws(RedisError) -> [TakenJob] {
        let token = token ?? newToken()
        let reply = try acknowledgeScript.run(
            on: try connected(),
            keys: [
                keys.inFlight(worker: workerID), keys.attempts, keys.stats, keys.events,
                keys.queue, keys.mark(worker: workerID),
            ],
            arguments: acknowledgeArguments(sent, inFlight: inFlight, take: take, token: token))
        if reply.string == "recheck" {
            // A monitor returned the jobs meanwhile: remove them by their bytes.
            return try acknowledge(sent, inFlight: nil, take: take, token: token)
        }
        let parts = reply.elements
        var taken: [TakenJob] = []
        taken.reserveCapacity(parts.count / 2)
        var index = 0
        while index + 1 < parts.count {
            guard case .bulk(let raw) = parts[index] else {
                throw .unexpected(command: "acknowledge script", reply: "\(reply)")
            }
            let sentFlag = parts[index + 1].integer ?? -1
            taken.append(TakenJob(raw: raw, wasSent: sentFlag < 0 ? nil : sentFlag == 1))
            index += 2
        }
        return taken
    }

    private func acknowledgeArguments(
        _ sent: [SentJob], inFlight: Int?, take: Int, token: String
    ) -> [RedisArgument] {
        var arguments: [RedisArgument] = [
            RedisArgument(sent.count), RedisArgument(resultTTL), RedisArgument(eventsMaxLength),
            RedisArgument(keys.prefix), RedisArgument(take), RedisArgument(inFlight ?? -1),
            RedisArgument(token),
        ]
        arguments.reserveCapacity(arguments.count + sent.count * 7)
        for job in sent {
            arguments += [
                inFlight == nil ? RedisArgument(bytes: job.raw) : "", RedisArgument(job.id),
                RedisArgument(job.messageID), RedisArgument(job.payload),
                RedisArgument(job.recipients), RedisArgument(job.elapsedMilliseconds),
                RedisArgument(String(job.startedMicroseconds)),
            ]
        }
        return arguments
    }

    /// Ends an attempt that did not send.
    ///
    /// - Parameters:
    ///   - raw: The job's bytes as taken.
    ///   - jobID: The job's id (derived for malformed jobs).
    ///   - payload: The job's payload, if it could be decoded.
    ///   - mode: Retry, throttle or dead letter.
    ///   - reason: Why, in words, for the dead letter and the events.
    ///   - code: The SES error code, or a short code of our own such as `malformed`.
    ///   - jitter: A random number in [0, 1) that spreads retry delays.
    ///   - throttleDelay: Seconds to wait in `throttle` mode instead of the policy's.
    ///   - token: The call's token (`newToken()`), the same when the call is repeated
    ///     after its answer was lost; nil for a new one.
    /// - Returns: Whether the job was retried or dead-lettered, with its attempt count.
    /// - Throws: `RedisError`.
    public func fail(
        raw: [UInt8], jobID: String, payload: String?, mode: FailureMode, reason: String,
        code: String, jitter: Double, throttleDelay: Double? = nil, token: String? = nil
    ) throws(RedisError) -> FailureOutcome {
        let keyList = [
            keys.inFlight(worker: workerID), keys.attempts, keys.delayed, keys.dead, keys.stats,
            keys.events, keys.mark(worker: workerID), keys.queue,
        ]
        let text = String(validating: raw, as: UTF8.self)
        let arguments: [RedisArgument] = [
            RedisArgument(bytes: raw), RedisArgument(jobID), RedisArgument(mode.rawValue),
            RedisArgument(retry.maxAttempts), RedisArgument(Int(retry.baseDelay * 1000)),
            RedisArgument(Int(retry.maxDelay * 1000)), RedisArgument(String(jitter)),
            RedisArgument(Int((throttleDelay ?? retry.throttleDelay) * 1000)),
            RedisArgument(reason),
            RedisArgument(code), RedisArgument(eventsMaxLength), RedisArgument(payload ?? ""),
            RedisArgument(DelayedMember.randomPrefix()),
            RedisArgument(text == nil ? "job_base64" : "job"),
            RedisArgument(text ?? Data(raw).base64EncodedString()),
            RedisArgument(token ?? newToken()),
        ]
        let reply = try failScript.run(on: try connected(), keys: keyList, arguments: arguments)
        let parts = reply.elements
        guard parts.count == 3, let outcome = parts[0].string, let attempts = parts[1].integer,
            let delay = parts[2].integer
        else { throw .unexpected(command: "fail script", reply: "\(reply)") }
        if outcome == "dead" { return .dead(attempts: Int(attempts)) }
        return .retried(attempts: Int(attempts), delayMilliseconds: Int(delay))
    }

    private var workerKeys: [String] {
        [
            keys.workers, keys.heartbeat(worker: workerID), keys.inFlight(worker: workerID),
            keys.queue, keys.mark(worker: workerID),
        ]
    }

    /// A token for one acknowledge or fail call: pass the same token when repeating
    /// the call after its answer was lost, so that it is applied once.
    public func newToken() -> String {
        tokens += 1
        return "\(session).\(tokens)"
    }

    private var heartbeatCommand: [RedisArgument] {
        [
            "SET", RedisArgument(keys.heartbeat(worker: workerID)), "1", "PX",
            RedisArgument(heartbeatTTL),
        ]
    }

}

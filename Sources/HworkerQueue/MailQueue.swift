// The producer side of a queue: what an application links to enqueue email.
//
// A `MailQueue` owns one Redis connection and is used from one thread. Every
// job is validated before it is pushed, so a bad email is refused here with
// the field that is wrong instead of becoming a dead letter later. A job with
// a send-at time skips the queue and waits in the delayed set, scored with
// that time, until a monitor moves it to the queue. After a broken connection
// the next call opens a new one, so a long-lived client (`stats --watch`)
// outlives a Redis restart.

import HworkerRedis

/// A client that enqueues email jobs and reads the state of a queue.
///
/// ```swift
/// let redis = RedisOptions(address: .tcp(host: "127.0.0.1", port: 6379))
/// let queue = try MailQueue(name: "mail", redis: redis)
/// let id = try queue.enqueue(EmailMessage(to: ["ann@example.com"], subject: "Hi", text: "Hello"))
/// let later = try queue.enqueue(
///     EmailMessage(to: ["ann@example.com"], subject: "Reminder", text: "Tomorrow"),
///     sendAt: QueueTime(parsing: "2026-12-05T09:00:00Z"))
/// ```
public final class MailQueue {
    /// The queue's Redis keys.
    public let keys: QueueKeys
    private let options: RedisOptions
    private var connection: RedisConnection
    /// The operator scripts, loaded on first use.
    let adminScripts = AdminScripts()

    /// Connects to the queue's Redis server.
    ///
    /// - Parameters:
    ///   - name: The queue name, as in the daemon's configuration.
    ///   - redis: Where Redis is and how to log in.
    /// - Throws: `EnqueueError.queueName`, or `EnqueueError.redis` when the server cannot be
    ///   reached.
    public init(name: String, redis: RedisOptions) throws(EnqueueError) {
        do {
            keys = try QueueKeys(name: name)
        } catch {
            throw .queueName(error)
        }
        options = redis
        do {
            connection = try RedisConnection(options: redis)
        } catch {
            throw .redis(error)
        }
    }

    /// The open connection, opening a new one when the last one broke.
    ///
    /// - Throws: `RedisError.connect` when Redis cannot be reached.
    func connected() throws(RedisError) -> RedisConnection {
        if connection.isOpen { return connection }
        connection = try RedisConnection(options: options)
        return connection
    }

    /// Validates and enqueues one email, to be sent now or at a given time.
    ///
    /// A job with `sendAt` goes into the delayed set instead of the queue; a
    /// monitor moves it to the front of the queue within about a second of
    /// that time (at once when the time has passed). It survives restarts of
    /// every process, as the queue does.
    ///
    /// - Parameters:
    ///   - email: The email; `from` may be left out to use the daemon's default sender.
    ///   - payload: Opaque application data returned in delivery events.
    ///   - id: The job id; a random UUID when omitted.
    ///   - sendAt: When to send; `nil` to send as soon as a worker is free.
    /// - Returns: The job id.
    /// - Throws: `EnqueueError.invalid` naming the wrong field, or `EnqueueError.redis`.
    @discardableResult
    public func enqueue(
        _ email: EmailMessage, payload: String? = nil, id: String? = nil,
        sendAt: QueueTime? = nil
    ) throws(EnqueueError) -> String {
        let job = try Self.validatedJob(email, payload: payload, id: id)
        try push([job], sendAt: sendAt)
        return job.id
    }

    /// Validates every job first, then enqueues them all in one pipelined round trip.
    ///
    /// Nothing is pushed when one job is invalid.
    ///
    /// - Parameters:
    ///   - jobs: The jobs to enqueue.
    ///   - sendAt: When to send them all; `nil` to send as soon as workers are free.
    /// - Throws: `EnqueueError.invalid` for the first invalid job (its index in the field
    ///   path), or `EnqueueError.redis`.
    public func enqueue(_ jobs: [Job], sendAt: QueueTime? = nil) throws(EnqueueError) {
        var checked: [Job] = []
        checked.reserveCapacity(jobs.count)
        for (index, job) in jobs.enumerated() {
            do {
                checked.append(try Self.validatedJob(job.email, payload: job.payload, id: job.id))
            } catch .invalid(let field, let reason) {
                throw .invalid(field: "jobs[\(index)].\(field)", reason: reason)
            } catch {
                throw error
            }
        }
        try push(checked, sendAt: sendAt)
    }

    /// Pushes valid jobs, at most 1,000 per command, all in one pipeline: LPUSH onto
    /// the queue, or ZADD into the delayed set scored with the send-at time. Each
    /// command is written as soon as it is encoded, so Redis stores one while the
    /// next is encoded; the replies are read at the end.
    private func push(_ jobs: [Job], sendAt: QueueTime?) throws(EnqueueError) {
        if let sendAt, sendAt.epochMilliseconds < 0 || sendAt > QueueTime.latest {
            throw .invalid(field: "send_at", reason: "must be between 1970 and 9999")
        }
        let name = sendAt == nil ? "LPUSH" : "ZADD"
        let score = sendAt.map { RedisArgument(String($0.epochMilliseconds)) }
        do {
            let connection = try connected()
            var sent = 0
            var start = 0
            while start < jobs.count {
                let end = min(start + 1000, jobs.count)
                var command: [RedisArgument] = [
                    RedisArgument(name), RedisArgument(score == nil ? keys.queue : keys.delayed),
                ]
                command.reserveCapacity(2 + (end - start) * (score == nil ? 1 : 2))
                for job in jobs[start..<end] {
                    if let score {
                        command += [
                            score, RedisArgument(bytes: DelayedMember.member(for: job.encoded())),
                        ]
                    } else {
                        command.append(RedisArgument(bytes: job.encoded()))
                    }
                }
                try connection.send(command)
                sent += 1
                start = end
            }
            // Every reply is read before one is checked, so that the connection stays in step.
            var replies: [RedisReply] = []
            for _ in 0..<sent { replies.append(try connection.receive()) }
            for reply in replies { try reply.checked(name) }
        } catch {
            throw .redis(error)
        }
    }

    /// Checks a job before it is pushed.
    ///
    /// - Parameters:
    ///   - email: The email.
    ///   - payload: Opaque application data.
    ///   - id: The job id; a random UUID when omitted.
    /// - Returns: The job as it would be pushed.
    /// - Throws: `EnqueueError.invalid` naming the field.
    public static func validatedJob(
        _ email: EmailMessage, payload: String?, id: String?
    ) throws(EnqueueError) -> Job {
        let jobID = id ?? Job(email: email).id
        guard !jobID.isEmpty, jobID.utf8.count <= 200, !jobID.contains(where: \.isNewline) else {
            throw .invalid(field: "id", reason: "must be 1 to 200 characters on one line")
        }
        do {
            // The worker fills a missing sender from its configuration, so a
            // stand-in lets every other rule be checked now.
            _ = try email.validated(defaultFrom: email.from ?? "sender@example.invalid")
        } catch {
            throw .invalid(field: "email." + error.field, reason: error.reason.description)
        }
        return Job(id: jobID, email: email, payload: payload)
    }
}

/// Why a job could not be enqueued.
public enum EnqueueError: Error, Sendable, CustomStringConvertible {
    /// The queue name cannot be used.
    case queueName(QueueNameError)
    /// A field of the job is invalid.
    case invalid(field: String, reason: String)
    /// Redis could not be reached or refused the push; nothing was enqueued
    /// unless the connection broke after the write.
    case redis(RedisError)

    /// A one-line description naming the field or the Redis failure.
    public var description: String {
        switch self {
        case .queueName(let error): return error.description
        case .invalid(let field, let reason): return "invalid job: \(field): \(reason)"
        case .redis(let error): return error.description
        }
    }
}

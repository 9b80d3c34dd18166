// A dead letter as the worker's fail script stores it in
// `hworker:{Q}:dead`: a JSON object with the job's id, the reason, the SES
// code (or one of ours such as `malformed`), the attempt count, the time and
// the job itself, as `job` when its bytes are UTF-8 text and as `job_base64`
// when they are not.
//
// The record's exact bytes are kept: requeueing removes the record by value,
// so a record changed by anyone in between is never removed by mistake.

import FoundationEssentials
import HworkerRedis

/// One dead letter.
public struct DeadLetter: Sendable, Equatable, Encodable {
    /// The job's id (derived from the bytes for jobs that had none).
    public var id: String
    /// Why the job failed, in words.
    public var reason: String
    /// The SES error code, or `malformed`, `invalid` and the like for jobs that never went out.
    public var code: String
    /// The attempts made.
    public var attempts: Int
    /// When the job became a dead letter, on the Redis server's clock.
    public var failedAt: QueueTime
    /// The job's text as it was queued; `nil` when its bytes were not UTF-8.
    public var job: String?
    /// The job's bytes in base64 when they were not UTF-8 text.
    public var jobBase64: String?
    /// The record exactly as stored.
    public var record: [UInt8]

    /// Whether the job can go back to the queue: only text jobs can, since
    /// bytes that are not UTF-8 can never decode into a job.
    public var isRetryable: Bool { job != nil }

    private struct Wire: Decodable {
        var id: String?
        var reason: String?
        var code: String?
        var attempts: Double?
        var failedAt: QueueTime?
        var job: String?
        var jobBase64: String?

        enum CodingKeys: String, CodingKey {
            case id, reason, code, attempts, job
            case failedAt = "failed_at"
            case jobBase64 = "job_base64"
        }
    }

    /// Reads a stored record.
    ///
    /// A record that is not a dead letter (someone pushed other bytes) is
    /// still returned, with code `unreadable`, so that it can be seen and purged.
    ///
    /// - Parameter record: The record's bytes as stored.
    public init(record: [UInt8]) {
        self.record = record
        guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(record)) else {
            id = Job.derivedID(record)
            reason = "not a dead letter record (\(record.count) bytes)"
            code = "unreadable"
            attempts = 0
            failedAt = QueueTime(epochMilliseconds: 0)
            return
        }
        id = wire.id ?? Job.derivedID(record)
        reason = wire.reason ?? ""
        code = wire.code ?? ""
        attempts = Int(wire.attempts ?? 0)
        failedAt = wire.failedAt ?? QueueTime(epochMilliseconds: 0)
        job = wire.job
        jobBase64 = wire.jobBase64
    }

    private enum CodingKeys: String, CodingKey {
        case id, reason, code, attempts, retryable, job
        case failedAt = "failed_at"
        case jobBase64 = "job_base64"
    }

    /// Encodes `{"id", "reason", "code", "attempts", "failed_at", "retryable",
    /// "job", "job_base64"}`, one of the last two being `null`.
    ///
    /// - Parameter encoder: The encoder.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(reason, forKey: .reason)
        try container.encode(code, forKey: .code)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(failedAt, forKey: .failedAt)
        try container.encode(isRetryable, forKey: .retryable)
        try container.encode(job, forKey: .job)
        try container.encode(jobBase64, forKey: .jobBase64)
    }
}

/// What `MailQueue.retryAllDeadLetters()` did.
public struct DeadLetterRetryReport: Sendable, Equatable {
    /// The ids of the jobs put back on the queue, oldest dead letter first.
    public var requeued: [String]
    /// The ids of the dead letters left in place because their jobs are not text.
    public var notRetryable: [String]

    /// Creates a report.
    ///
    /// - Parameters:
    ///   - requeued: The ids requeued.
    ///   - notRetryable: The ids left in place.
    public init(requeued: [String], notRetryable: [String]) {
        self.requeued = requeued
        self.notRetryable = notRetryable
    }
}

/// Why an operator's request on a queue failed.
public enum QueueAdminError: Error, Sendable, CustomStringConvertible {
    /// Redis could not be reached or refused a command.
    case redis(RedisError)
    /// No dead letter has this id.
    case noSuchDeadLetter(id: String)
    /// The dead letter's job is not UTF-8 text (stored as `job_base64`), so it
    /// cannot become a job again.
    case notRetryable(id: String)

    /// A one-line description naming the dead letter or the Redis failure.
    public var description: String {
        switch self {
        case .redis(let error):
            return error.description
        case .noSuchDeadLetter(let id):
            return "no dead letter with id \"\(id)\""
        case .notRetryable(let id):
            return "dead letter \"\(id)\" cannot be retried: its job is not UTF-8 text"
                + " (kept as job_base64)"
        }
    }
}

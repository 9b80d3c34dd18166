// A job: one email plus what the queue needs to track it.
//
// The JSON form is the wire format every producer writes with
// `LPUSH hworker:{<queue>}:queue <json>`:
//
//     {"id": "<unique id>", "email": {...}, "payload": "<opaque text>"}
//
// `id` is optional for foreign producers (a digest of the bytes stands in);
// `payload` is handed back untouched in events and results. Attempt counts
// live beside the job in Redis, so the bytes a producer pushed are never
// rewritten.

import FoundationEssentials
@_exported import HworkerMail
@_exported import HworkerRedis

/// One email job as stored in the queue.
public struct Job: Sendable, Equatable, Codable {
    /// The job's unique id.
    public var id: String
    /// The email to send.
    public var email: EmailMessage
    /// Application data carried along untouched and returned in delivery events.
    public var payload: String?

    /// Creates a job.
    ///
    /// - Parameters:
    ///   - id: A unique id; a random UUID when omitted.
    ///   - email: The email to send.
    ///   - payload: Opaque application data.
    public init(
        id: String = UUID().uuidString.lowercased(), email: EmailMessage, payload: String? = nil
    ) {
        self.id = id
        self.email = email
        self.payload = payload
    }
}

// The fixture the queue tests share: a private redis-server, a queue on it,
// a probe connection, and worker sessions with short retry delays.

import HworkerQueue
import HworkerRedis
import HworkerTestSupport
import Testing

/// A small valid email, numbered so that tests can tell jobs apart.
func testEmail(_ n: Int = 1) -> EmailMessage {
    EmailMessage(
        from: "app@example.com", to: ["user\(n)@example.com"], subject: "Hello \(n)", text: "Body")
}

/// A queue on a private redis-server.
struct QueueFixture {
    let redis: TestRedis
    let keys: QueueKeys
    let queue: MailQueue
    let probe: RedisConnection

    init(name: String = "test") throws {
        redis = try TestRedis()
        keys = try QueueKeys(name: name)
        queue = try MailQueue(name: name, redis: redis.options)
        probe = try redis.connect()
    }

    func worker(_ id: String = "host:1:0.1", heartbeatTTL: Int = 30_000, maxAttempts: Int = 3)
        -> WorkerSession
    {
        WorkerSession(
            workerID: id, keys: keys, redis: redis.options,
            retry: RetryPolicy(
                maxAttempts: maxAttempts, baseDelay: 0.05, maxDelay: 0.2, throttleDelay: 0.05),
            heartbeatTTL: heartbeatTTL, resultTTL: 60, eventsMaxLength: 1000)
    }

    /// Takes a job as a worker does; unless `paused` is allowed, expects sending not paused.
    func take(_ session: WorkerSession, paused: Bool = false) throws -> [UInt8]? {
        let pause = try session.checkIn()
        if !paused { #expect(pause == nil) }
        try session.startTake(timeout: 0.2)
        return try session.finishTake()
    }

    func length(_ key: String) throws -> Int64 {
        try probe.command("LLEN", key).integer ?? -1
    }

    func stat(_ field: String) throws -> Int64 {
        try probe.command("HGET", keys.stats, field).integer ?? 0
    }
}

// Queue scenarios against a real redis-server: every script's end state.

import Foundation
import HworkerQueue
import HworkerRedis
import HworkerTestSupport
import Testing

@Suite("Queue scenarios")
struct QueueScenarioTests {
    @Test func enqueuedJobIsTakenAcknowledgedAndRecorded() throws {
        let f = try QueueFixture()
        let id = try f.queue.enqueue(testEmail(), payload: "order-42")
        let session = f.worker()
        try session.register()
        let raw = try #require(try f.take(session))
        let job = try Job.decode(raw)
        #expect(job.id == id)
        #expect(job.payload == "order-42")
        #expect(try f.length(f.keys.inFlight(worker: session.workerID)) == 1)

        try session.acknowledge(raw: raw, job: job, messageID: "msg-1", elapsedMilliseconds: 3)
        #expect(try f.length(f.keys.inFlight(worker: session.workerID)) == 0)
        #expect(try f.stat("sent") == 1)
        let result = try #require(try f.probe.command("GET", f.keys.result(job: id)).string)
        #expect(result.contains("\"message_id\":\"msg-1\""))
        #expect(try session.wasSent(jobID: id))
        let events = try f.probe.command("XRANGE", f.keys.events, "-", "+").elements
        #expect(events.count == 1)
        let fields = events[0].elements[1].elements.compactMap(\.string)
        #expect(fields.contains("order-42") && fields.contains("msg-1") && fields.contains("sent"))
    }

    @Test func emptyQueueTakeTimesOutWithNil() throws {
        let f = try QueueFixture()
        let session = f.worker()
        try session.register()
        #expect(try f.take(session) == nil)
    }

    @Test func transientFailuresRetryWithBackoffThenDeadLetterAfterLastAttempt() throws {
        let f = try QueueFixture()
        let id = try f.queue.enqueue(testEmail())
        let session = f.worker(maxAttempts: 3)
        let monitor = MonitorSession(keys: f.keys, redis: f.redis.options)
        try session.register()
        var outcomes: [FailureOutcome] = []
        for _ in 0..<3 {
            var raw: [UInt8]?
            try Wait.until("the retry is due", timeout: 5) {
                _ = try monitor.promoteDueJobs(limit: 10)
                raw = try f.take(session)
                return raw != nil
            }
            let bytes = try #require(raw)
            outcomes.append(
                try session.fail(
                    raw: bytes, jobID: id, payload: nil, mode: .retry, reason: "503 from SES",
                    code: "ServiceUnavailable", jitter: 0.5))
        }
        #expect(outcomes.count == 3)
        #expect(outcomes[0] == .retried(attempts: 1, delayMilliseconds: 37))
        #expect(outcomes[1] == .retried(attempts: 2, delayMilliseconds: 75))
        #expect(outcomes[2] == .dead(attempts: 3))
        let letters = try f.probe.command("LRANGE", f.keys.dead, "0", "-1").elements.compactMap(
            \.string)
        #expect(letters.count == 1)
        let letter = try JSONSerialization.jsonObject(with: Data(letters[0].utf8)) as? [String: Any]
        #expect(letter?["reason"] as? String == "503 from SES")
        #expect(letter?["code"] as? String == "ServiceUnavailable")
        #expect(letter?["attempts"] as? Int == 3)
        #expect((letter?["failed_at"] as? Int ?? 0) > 1_700_000_000_000)
        #expect(try f.stat("retried") == 2)
        #expect(try f.stat("dead") == 1)
    }

    @Test func throttlingDoesNotCountAsAnAttempt() throws {
        let f = try QueueFixture()
        let id = try f.queue.enqueue(testEmail())
        let session = f.worker(maxAttempts: 1)
        try session.register()
        let raw = try #require(try f.take(session))
        let outcome = try session.fail(
            raw: raw, jobID: id, payload: nil, mode: .throttle,
            reason: "Maximum sending rate exceeded.",
            code: "Throttling", jitter: 0)
        #expect(outcome == .retried(attempts: 0, delayMilliseconds: 25))
        #expect(try f.probe.command("ZCARD", f.keys.delayed).integer == 1)
    }

    @Test func binaryJunkIsDeadLetteredWithItsBytesInBase64() throws {
        let f = try QueueFixture()
        let junk: [UInt8] = [0xff, 0x00, 0xfe, 0x41]
        try f.probe.command([
            RedisArgument("LPUSH"), RedisArgument(f.keys.queue), RedisArgument(bytes: junk),
        ])
        let session = f.worker()
        try session.register()
        let raw = try #require(try f.take(session))
        var reason = ""
        do { _ = try Job.decode(raw) } catch { reason = error.description }
        #expect(reason.contains("not valid UTF-8"))
        _ = try session.fail(
            raw: raw, jobID: Job.derivedID(raw), payload: nil, mode: .dead, reason: reason,
            code: "malformed",
            jitter: 0)
        let text = try #require(try f.probe.command("LINDEX", f.keys.dead, "0").string)
        let letter = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(letter?["job_base64"] as? String == "/wD+QQ==")
        #expect(letter?["code"] as? String == "malformed")
        #expect(try f.length(f.keys.inFlight(worker: session.workerID)) == 0)
    }

    @Test func jobsOfAWorkerWhoseHeartbeatExpiredGoBackToTheQueue() throws {
        let f = try QueueFixture()
        try f.queue.enqueue(testEmail())
        let dead = f.worker("host:1:0.1", heartbeatTTL: 200)
        try dead.register()
        #expect(try f.take(dead) != nil)
        let monitor = MonitorSession(keys: f.keys, redis: f.redis.options)
        #expect(try monitor.recoverDeadWorkers() == 0)
        try Wait.until("the job is returned", timeout: 5) { try monitor.recoverDeadWorkers() == 1 }
        #expect(try f.length(f.keys.queue) == 1)
        #expect(try f.probe.command("SCARD", f.keys.workers).integer == 0)
        #expect(try f.stat("recovered") == 1)
    }

    @Test func aRestartedWorkerReturnsWhatItsPredecessorLeftInFlight() throws {
        let f = try QueueFixture()
        try f.queue.enqueue(testEmail())
        let first = f.worker()
        try first.register()
        #expect(try f.take(first) != nil)
        first.disconnect()
        let second = f.worker()
        #expect(try second.register() == 1)
        #expect(try f.length(f.keys.queue) == 1)
    }

    @Test func equalJobsRetriedTogetherStayDistinct() throws {
        let f = try QueueFixture()
        let job = Job(id: "same", email: testEmail())
        try f.queue.enqueue([job, job])
        let session = f.worker()
        try session.register()
        for _ in 0..<2 {
            let raw = try #require(try f.take(session))
            _ = try session.fail(
                raw: raw, jobID: "same", payload: nil, mode: .throttle, reason: "t",
                code: "Throttling", jitter: 0)
        }
        #expect(try f.probe.command("ZCARD", f.keys.delayed).integer == 2)
        let monitor = MonitorSession(keys: f.keys, redis: f.redis.options)
        try Wait.until("both are promoted", timeout: 5) {
            _ = try monitor.promoteDueJobs(limit: 10)
            return try f.length(f.keys.queue) == 2
        }
        let raw = try #require(try f.take(session))
        #expect(try Job.decode(raw) == job)
    }

    @Test func acknowledgingAJobAMonitorReturnedRemovesItFromTheQueue() throws {
        let f = try QueueFixture()
        try f.queue.enqueue(testEmail())
        let slow = f.worker("host:1:0.1", heartbeatTTL: 100)
        try slow.register()
        let raw = try #require(try f.take(slow))
        let monitor = MonitorSession(keys: f.keys, redis: f.redis.options)
        try Wait.until("the job is returned", timeout: 5) { try monitor.recoverDeadWorkers() == 1 }
        try slow.acknowledge(
            raw: raw, job: try Job.decode(raw), messageID: "m", elapsedMilliseconds: 1)
        #expect(try f.length(f.keys.queue) == 0)
    }

    @Test func invalidEmailIsRefusedAtEnqueueAndNothingIsPushed() throws {
        let f = try QueueFixture()
        let bad = EmailMessage(to: [], subject: "x", text: "y")
        #expect(throws: EnqueueError.self) {
            try f.queue.enqueue([Job(email: testEmail()), Job(email: bad)])
        }
        #expect(try f.length(f.keys.queue) == 0)
    }

    @Test func bulkEnqueueKeepsOrder() throws {
        let f = try QueueFixture()
        let jobs = (0..<2500).map { Job(id: "j\($0)", email: testEmail($0)) }
        try f.queue.enqueue(jobs)
        #expect(try f.length(f.keys.queue) == 2500)
        let session = f.worker()
        try session.register()
        let first = try #require(try f.take(session))
        #expect(try Job.decode(first).id == "j0")
    }

    @Test func aJobThatComesBackAfterItWasSentIsRecognizedAndDropped() throws {
        let f = try QueueFixture()
        let id = try f.queue.enqueue(testEmail())
        let session = f.worker()
        try session.register()
        let raw = try #require(try f.take(session))
        #expect(try !session.wasSent(jobID: id))
        try session.acknowledge(
            raw: raw, job: try Job.decode(raw), messageID: "m1", elapsedMilliseconds: 1)
        // The acknowledgement landed but the job came back (a monitor returned it first).
        try f.probe.command([
            RedisArgument("RPUSH"), RedisArgument(f.keys.queue), RedisArgument(bytes: raw),
        ])
        let again = try #require(try f.take(session))
        #expect(try session.wasSent(jobID: id))
        try session.dropDuplicate(raw: again)
        #expect(try f.length(f.keys.inFlight(worker: session.workerID)) == 0)
        #expect(try f.stat("duplicates_skipped") == 1)
        #expect(try f.stat("sent") == 1)
    }
}

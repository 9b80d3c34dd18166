// The operator's library API against a real redis-server: stats snapshots,
// the pause flag, dead letters, and scheduled jobs.

import Foundation
import HworkerQueue
import HworkerRedis
import HworkerTestSupport
import Testing

extension QueueFixture {
    /// Enqueues a job, takes it and dead-letters it with a reason and code.
    func deadLetter(_ n: Int, code: String = "MessageRejected") throws -> String {
        let id = try queue.enqueue(testEmail(n), id: "dead-\(n)")
        let session = worker("host:9:\(n).1")
        try session.register()
        let raw = try #require(try take(session, paused: true))
        _ = try session.fail(
            raw: raw, jobID: id, payload: nil, mode: .dead, reason: "rejected \(n)", code: code,
            jitter: 0)
        try session.unregister()
        return id
    }

    /// Pushes bytes that are not UTF-8 and dead-letters them as a worker would.
    func binaryDeadLetter() throws -> String {
        let junk: [UInt8] = [0xff, 0x00, 0xfe, 0x41]
        try probe.command([
            RedisArgument("LPUSH"), RedisArgument(keys.queue), RedisArgument(bytes: junk),
        ])
        let session = worker("host:9:99.1")
        try session.register()
        let raw = try #require(try take(session, paused: true))
        let id = Job.derivedID(raw)
        _ = try session.fail(
            raw: raw, jobID: id, payload: nil, mode: .dead, reason: "not valid UTF-8",
            code: "malformed", jitter: 0)
        try session.unregister()
        return id
    }

    func queuedIDs() throws -> [String] {
        try probe.command("LRANGE", keys.queue, "0", "-1").elements.compactMap { element in
            guard case .bulk(let bytes) = element else { return nil }
            return try Job.decode(bytes).id
        }
    }

    func redisTime() throws -> Int64 {
        let parts = try probe.command("TIME").elements
        let seconds = try #require(parts.first?.integer)
        let micros = try #require(parts.last?.integer)
        return seconds * 1000 + micros / 1000
    }
}

@Suite("Queue stats")
struct QueueStatsTests {
    @Test func anEmptyQueueReportsZeroEverywhere() throws {
        let f = try QueueFixture(name: "admin")
        let stats = try f.queue.stats()
        #expect(stats.queue == "admin")
        #expect(stats.queued == 0 && stats.inFlight == 0 && stats.delayed == 0)
        #expect(stats.deadLetters == 0 && stats.nextDue == nil && stats.paused == nil)
        #expect(stats.workers.isEmpty)
        #expect(stats.counters.sent == Counter(total: 0, lastMinute: 0))
        #expect(stats.counters.recovered == Counter(total: 0, lastMinute: nil))
        #expect(abs(stats.time.epochMilliseconds - (try f.redisTime())) < 5_000)
    }

    @Test func snapshotCountsEveryPlaceAJobCanBe() throws {
        let f = try QueueFixture(name: "admin")
        let held = try f.queue.enqueue(testEmail(1), id: "held-job")
        let session = f.worker("web-1:4242:3.2")
        try session.register()
        #expect(try f.take(session) != nil)
        try f.queue.enqueue([Job(email: testEmail(2)), Job(email: testEmail(3))])
        let due = QueueTime(epochMilliseconds: try f.redisTime() + 3_600_000)
        try f.queue.enqueue(testEmail(4), sendAt: due)
        _ = try f.deadLetter(5)

        let stats = try f.queue.stats()
        #expect(stats.queued == 2)
        #expect(stats.inFlight == 1)
        #expect(stats.delayed == 1)
        #expect(stats.nextDue == due)
        #expect(stats.deadLetters == 1)
        #expect(stats.counters.dead == Counter(total: 1, lastMinute: 1))
        let worker = try #require(stats.workers.first)
        #expect(stats.workers.count == 1)
        #expect(worker.id == "web-1:4242:3.2")
        #expect(worker.host == "web-1" && worker.masterPID == 4242)
        #expect(worker.slot == 3 && worker.generation == 2)
        #expect(worker.job == held && worker.inFlight == 1 && worker.since == nil)
        #expect(worker.isAlive && (worker.heartbeatTTL ?? 0) > 20_000)
    }

    @Test func theLastMinuteCountsOnlyRecentEvents() throws {
        let f = try QueueFixture(name: "admin")
        let now = try f.redisTime()
        for (offset, kind) in [(120_000, "sent"), (90_000, "retry"), (30_000, "sent"), (1, "dead")]
        {
            try f.probe.command(
                "XADD", f.keys.events, "\(now - Int64(offset))-0", "event", kind, "job", "j")
        }
        try f.probe.command("HSET", f.keys.stats, "sent", "7", "retried", "2", "dead", "1")
        let counters = try f.queue.stats().counters
        #expect(counters.sent == Counter(total: 7, lastMinute: 1))
        #expect(counters.retried == Counter(total: 2, lastMinute: 0))
        #expect(counters.dead == Counter(total: 1, lastMinute: 1))
    }

    @Test func theLastMinuteCountsEveryPageOfABusyStream() throws {
        let f = try QueueFixture(name: "admin")
        let commands: [[RedisArgument]] = (0..<2_500).map { _ in
            ["XADD", RedisArgument(f.keys.events), "*", "event", "sent", "job", "j"]
        }
        _ = try f.probe.pipeline(commands)
        #expect(try f.queue.stats().counters.sent.lastMinute == 2_500)
    }

    @Test func aWorkerWithAnExpiredHeartbeatIsShownAsNotAlive() throws {
        let f = try QueueFixture(name: "admin")
        let session = f.worker("host:1:0.1", heartbeatTTL: 100)
        try session.register()
        try Wait.until("the heartbeat expires", timeout: 5) {
            try f.queue.stats().workers.first?.isAlive == false
        }
        let worker = try #require(try f.queue.stats().workers.first)
        #expect(worker.heartbeatTTL == nil && worker.job == nil && worker.inFlight == 0)
    }

    @Test func theIdOfABigInFlightJobIsFoundWhereverItsKeyIs() throws {
        let f = try QueueFixture(name: "admin")
        let big = String(repeating: "x", count: 20_000)
        let late =
            "{\"email\":{\"to\":[\"a@example.com\"],\"subject\":\"s\",\"text\":\"\(big)\"},"
            + "\"id\":\"id-at-the-end\"}"
        try f.probe.command("LPUSH", f.keys.queue, late)
        let session = f.worker("host:1:0.1")
        try session.register()
        #expect(try f.take(session) != nil)
        #expect(try f.queue.stats().workers.first?.job == "id-at-the-end")

        try f.queue.enqueue(
            EmailMessage(to: ["a@example.com"], subject: "s", text: big), id: "early")
        let second = f.worker("host:1:1.1")
        try second.register()
        #expect(try f.take(second) != nil)
        #expect(try f.queue.stats().workers.map(\.job) == ["id-at-the-end", "early"])
    }

    @Test func workerIdsOfOtherFormsAreShownWhole() {
        let plain = WorkerState(id: "custom-worker")
        #expect(plain.host == "custom-worker" && plain.masterPID == nil && plain.slot == nil)
        let v6 = WorkerState(id: "fe80::1:77:0.4")
        #expect(v6.host == "fe80::1" && v6.masterPID == 77 && v6.slot == 0 && v6.generation == 4)
    }

    @Test func statsEncodeToTheDocumentedShape() throws {
        let f = try QueueFixture(name: "admin")
        let session = f.worker("web-1:4242:3.2")
        try session.register()
        let data = try JSONEncoder().encode(try f.queue.stats())
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "version", "queue", "time", "paused", "queued", "in_flight", "delayed", "next_due",
                "dead_letters", "counters", "registered_workers", "workers", "ses_pause",
                "ses_account", "server",
            ])
        #expect(object["paused"] is NSNull && object["next_due"] is NSNull)
        #expect(object["ses_pause"] is NSNull && object["ses_account"] is NSNull)
        let counters = try #require(object["counters"] as? [String: [String: Any]])
        #expect(
            Set(counters.keys) == ["sent", "retried", "dead", "recovered", "duplicates_skipped"])
        #expect(counters["recovered"]?["last_minute"] is NSNull)
        let workers = try #require(object["workers"] as? [[String: Any]])
        #expect(
            Set(workers.first?.keys.map { $0 } ?? []) == [
                "id", "host", "master_pid", "slot", "generation", "alive", "heartbeat_ttl_ms",
                "in_flight", "job", "since",
            ])
    }
}

@Suite("Pause flag")
struct PauseTests {
    @Test func pauseRecordsTheReasonAndTimeAndResumeClearsIt() throws {
        let f = try QueueFixture(name: "admin")
        #expect(try f.queue.pauseState() == nil)
        let before = try f.redisTime()
        let state = try f.queue.pause(reason: "SES review")
        #expect(state.reason == "SES review")
        #expect((state.pausedAt?.epochMilliseconds ?? 0) >= before)
        #expect(try f.queue.pauseState() == state)
        #expect(try f.queue.stats().paused == state)
        let raw = try #require(try f.probe.command("GET", f.keys.paused).string)
        #expect(raw.contains("\"reason\":\"SES review\"") && raw.contains("\"paused_at\":"))

        #expect(try f.queue.resume() == state)
        #expect(try f.queue.pauseState() == nil)
        #expect(try f.queue.resume() == nil)
    }

    @Test func aPauseWithoutReasonStoresNull() throws {
        let f = try QueueFixture(name: "admin")
        let state = try f.queue.pause()
        #expect(state.reason == nil)
        let raw = try #require(try f.probe.command("GET", f.keys.paused).string)
        #expect(raw.contains("\"reason\":null"))
    }

    @Test func aFlagSetByHandStillCountsAsPaused() throws {
        let f = try QueueFixture(name: "admin")
        try f.probe.command("SET", f.keys.paused, "1")
        #expect(try f.queue.pauseState() == PauseState(reason: "1", pausedAt: nil))
    }
}

@Suite("Dead letters")
struct DeadLetterTests {
    @Test func deadLettersAreListedNewestFirstWithTheirRecordFields() throws {
        let f = try QueueFixture(name: "admin")
        let first = try f.deadLetter(1)
        let second = try f.deadLetter(2, code: "invalid")
        let letters = try f.queue.deadLetters(limit: 10)
        #expect(letters.map(\.id) == [second, first])
        #expect(letters[0].code == "invalid" && letters[0].reason == "rejected 2")
        #expect(letters[0].attempts == 1 && letters[0].isRetryable)
        #expect(letters[0].failedAt.epochMilliseconds > 1_700_000_000_000)
        #expect(try Job.decode(Array((letters[0].job ?? "").utf8)).id == second)
        #expect(try f.queue.deadLetters(limit: 1, offset: 1).map(\.id) == [first])
        #expect(try f.queue.deadLetterCount() == 2)
        #expect(try f.queue.deadLetter(id: first)?.reason == "rejected 1")
        #expect(try f.queue.deadLetter(id: "nope") == nil)
    }

    @Test func retryMovesTheJobToTheFrontOfTheQueueAndResetsItsAttempts() throws {
        let f = try QueueFixture(name: "admin")
        let id = try f.deadLetter(1)
        try f.queue.enqueue(testEmail(2), id: "waiting")
        try f.probe.command("HSET", f.keys.attempts, id, "5")
        let letter = try f.queue.retryDeadLetter(id: id)
        #expect(letter.id == id)
        #expect(try f.queue.deadLetterCount() == 0)
        // Workers take from the right end: the requeued job goes out next.
        #expect(try f.queuedIDs() == ["waiting", id])
        #expect(try f.probe.command("HEXISTS", f.keys.attempts, id).integer == 0)
        let taken = try #require(try f.take(f.worker("host:1:0.1")))
        #expect(Array((letter.job ?? "").utf8) == taken)
    }

    @Test func binaryJobsAndUnknownIdsCannotBeRetried() throws {
        let f = try QueueFixture(name: "admin")
        let junk = try f.binaryDeadLetter()
        let letter = try #require(try f.queue.deadLetter(id: junk))
        #expect(!letter.isRetryable && letter.jobBase64 == "/wD+QQ==")
        #expect(throws: QueueAdminError.self) { try f.queue.retryDeadLetter(id: junk) }
        do {
            try f.queue.retryDeadLetter(id: junk)
        } catch {
            #expect(error.description.contains("not UTF-8 text"))
        }
        do {
            try f.queue.retryDeadLetter(id: "unknown")
            Issue.record("retrying an unknown id succeeded")
        } catch {
            guard case .noSuchDeadLetter(let id) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(id == "unknown")
        }
        #expect(try f.queue.deadLetterCount() == 1)
        #expect(try f.queuedIDs().isEmpty)
    }

    @Test func retryAllRequeuesTextJobsOldestFirstAndKeepsBinaryOnes() throws {
        let f = try QueueFixture(name: "admin")
        var ids: [String] = []
        for n in 0..<150 { ids.append(try f.deadLetter(n)) }
        let junk = try f.binaryDeadLetter()
        for n in 150..<160 { ids.append(try f.deadLetter(n)) }
        let report = try f.queue.retryAllDeadLetters()
        #expect(report.requeued == ids)
        #expect(report.notRetryable == [junk])
        #expect(try f.queue.deadLetters(limit: 10).map(\.id) == [junk])
        #expect(Set(try f.queuedIDs()) == Set(ids))
    }

    @Test func purgeDeletesEveryDeadLetter() throws {
        let f = try QueueFixture(name: "admin")
        _ = try f.deadLetter(1)
        _ = try f.binaryDeadLetter()
        #expect(try f.queue.purgeDeadLetters() == 2)
        #expect(try f.queue.deadLetterCount() == 0)
        #expect(try f.queue.purgeDeadLetters() == 0)
    }

    @Test func aRecordThatIsNotADeadLetterIsShownAsUnreadable() throws {
        let f = try QueueFixture(name: "admin")
        try f.probe.command("LPUSH", f.keys.dead, "not json")
        let letter = try #require(try f.queue.deadLetters(limit: 1).first)
        #expect(letter.code == "unreadable" && !letter.isRetryable)
        #expect(try f.queue.deadLetter(id: letter.id) == letter)
    }
}

@Suite("Scheduled jobs")
struct ScheduledJobTests {
    @Test func aScheduledJobWaitsInTheDelayedSetScoredWithItsTime() throws {
        let f = try QueueFixture(name: "admin")
        let due = try QueueTime(parsing: "2030-01-02T03:04:05.678Z")
        let id = try f.queue.enqueue(testEmail(), payload: "p", sendAt: due)
        #expect(try f.queuedIDs().isEmpty)
        let members = try f.probe.command("ZRANGE", f.keys.delayed, "0", "-1", "WITHSCORES")
            .elements
        #expect(members.count == 2)
        guard case .bulk(let member) = members[0] else {
            Issue.record("no member")
            return
        }
        #expect(members[1].string.flatMap(Double.init) == Double(due.epochMilliseconds))
        let prefix = String(decoding: member.prefix(17), as: UTF8.self)
        #expect(prefix.last == ":" && prefix.dropLast().allSatisfy(\.isHexDigit))
        let job = try Job.decode(Array(member.dropFirst(17)))
        #expect(job.id == id && job.payload == "p")
    }

    @Test func aDueScheduledJobIsPromotedToTheQueueByTheMonitor() throws {
        let f = try QueueFixture(name: "admin")
        let monitor = MonitorSession(keys: f.keys, redis: f.redis.options)
        let due = QueueTime(epochMilliseconds: try f.redisTime() + 300)
        let id = try f.queue.enqueue(testEmail(), sendAt: due)
        let early = try monitor.promoteDueJobs(limit: 10)
        #expect(early.moved == 0 && (early.nextDue ?? 0) > 0)
        try Wait.until("the job is due", timeout: 5) {
            try monitor.promoteDueJobs(limit: 10).moved == 1
        }
        #expect(try f.redisTime() >= due.epochMilliseconds)
        #expect(try f.queuedIDs() == [id])
    }

    @Test func equalJobsScheduledTogetherStayDistinct() throws {
        let f = try QueueFixture(name: "admin")
        let job = Job(id: "same", email: testEmail())
        try f.queue.enqueue([job, job, job], sendAt: QueueTime(epochMilliseconds: 1_000))
        #expect(try f.probe.command("ZCARD", f.keys.delayed).integer == 3)
    }

    @Test func aSendTimeOutOfRangeIsRefused() throws {
        let f = try QueueFixture(name: "admin")
        #expect(throws: EnqueueError.self) {
            try f.queue.enqueue(testEmail(), sendAt: QueueTime(epochMilliseconds: -1))
        }
        #expect(try f.probe.command("ZCARD", f.keys.delayed).integer == 0)
    }
}

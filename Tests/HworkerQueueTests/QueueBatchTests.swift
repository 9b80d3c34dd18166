// Batched acknowledgements: a worker records its sent jobs and takes the next
// ones in one script, removing sent jobs by count while it owns its in-flight
// list alone, and by their bytes once a monitor returned them. A call repeated
// after its answer was lost is applied once.

import HworkerQueue
import HworkerRedis
import HworkerTestSupport
import Testing

@Suite("Queue batches")
struct QueueBatchTests {
    /// Enqueues `count` jobs `j0`, `j1`, ... and registers a worker that took `j0`.
    private func started(_ count: Int) throws -> (QueueFixture, WorkerSession, [UInt8]) {
        let f = try QueueFixture()
        try f.queue.enqueue((0..<count).map { Job(id: "j\($0)", email: testEmail($0)) })
        let session = f.worker()
        try session.register()
        let first = try #require(try f.take(session))
        return (f, session, first)
    }

    private func sent(_ raw: [UInt8]) throws -> SentJob {
        SentJob(raw: raw, job: try Job.decode(raw), messageID: "m-" + (try Job.decode(raw).id))
    }

    @Test func acknowledgingTakesTheNextJobsOldestFirst() throws {
        let (f, session, first) = try started(5)
        let taken = try session.acknowledge([try sent(first)], inFlight: 1, take: 3)
        #expect(try taken.map { try Job.decode($0.raw).id } == ["j1", "j2", "j3"])
        #expect(taken.allSatisfy { $0.wasSent == false })
        #expect(try f.length(f.keys.inFlight(worker: session.workerID)) == 3)
        #expect(try f.length(f.keys.queue) == 1)
        #expect(try f.stat("sent") == 1)
        #expect(try session.wasSent(jobID: "j0"))

        // The oldest jobs are sent; the newest stays in flight, untouched.
        let ended = try session.acknowledge(
            [try sent(taken[0].raw), try sent(taken[1].raw)], inFlight: 3, take: 0)
        #expect(ended.isEmpty)
        let inFlight = f.keys.inFlight(worker: session.workerID)
        let left = try f.probe.command("LRANGE", inFlight, "0", "-1").elements
        #expect(left == [.bulk(taken[2].raw)])
        #expect(try f.stat("sent") == 3)
    }

    @Test func jobsAMonitorReturnedAreRemovedFromTheQueueByTheirBytes() throws {
        let (f, session, first) = try started(3)
        // A monitor gives the job back (as after an expired heartbeat).
        try f.probe.command(
            "LMOVE", f.keys.inFlight(worker: session.workerID), f.keys.queue, "RIGHT", "RIGHT")
        #expect(try f.length(f.keys.queue) == 3)
        try session.acknowledge([try sent(first)], inFlight: 1, take: 0)
        #expect(try f.length(f.keys.queue) == 2)
        #expect(try session.wasSent(jobID: "j0"))
        #expect(try f.stat("sent") == 1)
    }

    @Test func aTakenJobWhoseResultIsRecordedIsMarkedSent() throws {
        let (f, session, first) = try started(3)
        try f.probe.command("SET", f.keys.result(job: "j2"), "{}")
        let taken = try session.acknowledge([try sent(first)], inFlight: 1, take: 5)
        #expect(taken.map(\.wasSent) == [false, true])
    }

    @Test func jobsOfOtherProducersAreReadForTheirIDs() throws {
        let (f, session, first) = try started(1)
        let foreign = Array(#"{"email": {"to": ["a@example.com"]}, "id": "foreign-1"}"#.utf8)
        let anonymous = Array(#"{"email": {"to": ["a@example.com"]}}"#.utf8)
        try f.probe.command([
            "LPUSH", RedisArgument(f.keys.queue), RedisArgument(bytes: foreign),
            RedisArgument(bytes: anonymous),
        ])
        try f.probe.command("SET", f.keys.result(job: "foreign-1"), "{}")
        let taken = try session.acknowledge([try sent(first)], inFlight: 1, take: 5)
        #expect(taken.map(\.raw) == [foreign, anonymous])
        #expect(taken.map(\.wasSent) == [true, nil])
    }

    @Test func aRepeatedAcknowledgementIsAppliedOnceAndAnswersTheSameJobs() throws {
        let (f, session, first) = try started(40)
        let token = session.newToken()
        let taken = try session.acknowledge([try sent(first)], inFlight: 1, take: 16, token: token)
        // The answer was lost; the worker repeats the call with the same token.
        let again = try session.acknowledge([try sent(first)], inFlight: 1, take: 16, token: token)
        #expect(again.map(\.raw) == taken.map(\.raw))
        #expect(try taken.map { try Job.decode($0.raw).id } == (1...16).map { "j\($0)" })
        #expect(try f.length(f.keys.inFlight(worker: session.workerID)) == 16)
        #expect(try f.length(f.keys.queue) == 23)
        #expect(try f.stat("sent") == 1)
        #expect(try f.probe.command("XLEN", f.keys.events).integer == 1)
    }

    @Test func aRepeatedFailureRetriesTheJobOnce() throws {
        let (f, session, first) = try started(2)
        let token = session.newToken()
        var outcomes: [FailureOutcome] = []
        for _ in 0..<2 {
            outcomes.append(
                try session.fail(
                    raw: first, jobID: "j0", payload: nil, mode: .retry, reason: "5xx",
                    code: "InternalFailure", jitter: 0.5, token: token))
        }
        #expect(outcomes[0] == outcomes[1])
        #expect(try f.probe.command("ZCARD", f.keys.delayed).integer == 1)
        #expect(try f.probe.command("HGET", f.keys.attempts, "j0").string == "1")
        #expect(try f.length(f.keys.inFlight(worker: session.workerID)) == 0)
        #expect(try f.length(f.keys.queue) == 1)
    }

    @Test func aWorkerRegisteredAgainUnderTheSameIDStartsWithoutAMark() throws {
        let (f, session, first) = try started(2)
        try session.acknowledge([try sent(first)], inFlight: 1, take: 0)
        #expect(try f.probe.command("EXISTS", f.keys.mark(worker: session.workerID)).integer == 1)
        // The process died; its replacement gets the same id.
        try f.worker(session.workerID).register()
        #expect(try f.probe.command("EXISTS", f.keys.mark(worker: session.workerID)).integer == 0)
        #expect(session.newToken() != f.worker(session.workerID).newToken())
    }
}

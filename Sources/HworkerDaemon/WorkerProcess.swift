// The worker: takes jobs and sends them one after the other.
//
// Loop: refresh the heartbeat and block on BLMOVE (queue -> own in-flight
// list) while also watching signals and the master; decode and validate each
// job; reserve its recipients in the shared rate segment and sleep until
// they are due; send. A failed job ends at once with one script (retry or
// dead letter); sent jobs are acknowledged together at the end of the batch
// by one script that also takes the next batch, so a busy queue costs one
// round trip per batch. A drain finishes the job in hand, records what was
// sent and gives the rest of the batch back; a terminate gives back the job
// in hand too. When Redis fails, the worker logs once per outage, reconnects
// with backoff and jitter, and records what it sent before taking more.

import Glibc
import HworkerQueue
import HworkerRate
import HworkerRedis

/// A job that was taken and has an outcome that still has to reach Redis.
private enum PendingEnd {
    /// Nothing to record: the job stays in flight until the worker unregisters.
    case keep
    case duplicate(raw: [UInt8], jobID: String)
    case acknowledge(SentJob)
    case fail(raw: [UInt8], jobID: String, payload: String?, failure: SendFailure)
}

/// One worker process.
final class WorkerProcess {
    private let runtime: ChildRuntime
    private let session: WorkerSession
    private let rate: RateSegment
    private let transport: MailTransport
    private let config: Configuration
    private var log: Logger { runtime.logger }
    private var redisDown = false
    private var lastHeartbeat: Int64 = 0
    /// Set when a connection broke: an answer that never arrived may have moved a job
    /// into the in-flight list, so the worker registers again (returning such jobs to
    /// the queue) before it takes the next one.
    private var needsRegister = false
    /// How long the last SES request took, for the master's latency histogram.
    private var lastSendMilliseconds = 0
    /// Whether the result of the job in hand was found recorded when it was taken.
    private var knownSent: Bool?
    /// Jobs taken along with the last acknowledgement and not processed yet; they are
    /// in the worker's in-flight list.
    private var batch: [TakenJob] = []
    /// Jobs SES accepted that are not acknowledged in Redis yet.
    private var unacknowledged: [SentJob] = []
    /// Whether the last send had to wait for the rate.
    private var rateBound = false
    /// Jobs of the batch left in flight, untouched, when a stop arrived.
    private var unprocessed = 0
    /// How many jobs one acknowledgement takes from a busy queue.
    private let batchSize = 16

    /// How often the worker refreshes its heartbeat and reads the pause keys.
    private let checkInInterval: Int64 = 1_000_000_000
    private var lastCheckIn: Int64 = .min / 2
    private var pauseReason: String?

    /// How long one blocking take waits: until the next check-in, so that a
    /// quiet queue costs two commands a second and never looks like a dead server.
    private var takeTimeout: Double {
        let remaining = Double(lastCheckIn + checkInInterval - Monotonic.now()) / 1e9
        return min(1, max(0.1, remaining))
    }

    init(runtime: ChildRuntime, keys: QueueKeys, rate: RateSegment, transport: MailTransport) {
        self.runtime = runtime
        self.rate = rate
        self.transport = transport
        config = runtime.handoff.config
        session = WorkerSession(
            workerID: runtime.handoff.workerID, keys: keys, redis: config.redisOptions,
            retry: config.retryPolicy, heartbeatTTL: Int(config.heartbeatTimeout * 1000),
            resultTTL: Int(config.resultTTL), eventsMaxLength: config.eventsMax)
    }

    /// Runs until drained or terminated.
    func run() -> Int32 {
        guard
            withRedis(
                until: [.drain, .terminate],
                { () throws(RedisError) in
                    let recovered = try session.register()
                    if recovered > 0 {
                        log.warning(
                            "returned jobs of a previous worker", [("jobs", String(recovered))])
                    }
                })
        else { return 0 }
        runtime.reportReady()
        log.info("worker ready", [("worker.id", session.workerID)])
        log.holding = true
        while true {
            // A stop that arrived during the last batch ends the loop before the next take.
            runtime.pollSignals()
            if runtime.stopRequest != nil { break }
            if batch.isEmpty {
                guard let raw = take() else { continue }
                batch = [TakenJob(raw: raw, wasSent: nil)]
            }
            let jobs = batch
            batch = []
            for (index, taken) in jobs.enumerated() {
                // Jobs left when a stop arrives stay in flight; unregistering gives them back.
                if runtime.stopRequest != nil {
                    unprocessed = jobs.count - index
                    break
                }
                heartbeatIfDue()
                knownSent = taken.wasSent
                let end = process(taken.raw)
                if case .acknowledge(let sent) = end {
                    unacknowledged.append(sent)
                } else {
                    finish(end)
                }
            }
            recordSent()
            unprocessed = 0
        }
        // Sends that could not be recorded stay in flight: the master records them
        // from the status lines once this process is gone, then returns the rest.
        if unacknowledged.isEmpty { unregister() }
        log.holding = false
        runtime.flushReports()
        return 0
    }

    /// Refreshes the heartbeat and the pause state when a check-in is due.
    ///
    /// - Returns: false while sending is paused.
    private func checkInIfDue() -> Bool {
        guard Monotonic.now() - lastCheckIn >= checkInInterval else { return pauseReason == nil }
        var reason: String?
        let ok = withRedis(until: [.drain, .terminate]) { () throws(RedisError) in
            reason = try session.checkIn()
        }
        guard ok else { return false }
        lastCheckIn = Monotonic.now()
        lastHeartbeat = lastCheckIn
        if reason != pauseReason {
            if let reason {
                log.warning("sending paused; jobs stay queued", [("reason", reason)])
            } else {
                log.info("sending resumed")
            }
        }
        pauseReason = reason
        return reason == nil
    }

    /// Blocks until a job arrives, the take times out or a stop is requested.
    private func take() -> [UInt8]? {
        if needsRegister {
            let ok = withRedis(until: [.drain, .terminate]) { () throws(RedisError) in
                try session.register()
            }
            guard ok else { return nil }
            needsRegister = false
        }
        guard checkInIfDue() else {
            runtime.wait(until: lastCheckIn + checkInInterval)
            return nil
        }
        var result: [UInt8]?
        let ok = withRedis(until: [.drain, .terminate]) { () throws(RedisError) in
            try session.startTake(timeout: takeTimeout)
            let fd = try session.connected().fileDescriptor
            if !session.takeAnswerBuffered, runtime.wait(until: nil, orReadable: fd) == .stopped {
                // A job may land in our in-flight list after we hang up;
                // unregistering gives it back.
                session.disconnect()
                return
            }
            result = try session.finishTake()
        }
        return ok ? result : nil
    }

    /// Decides the outcome of one job: decode, validate, wait for the rate, send.
    private func process(_ raw: [UInt8]) -> PendingEnd {
        let job: Job
        do {
            job = try Job.decode(raw)
        } catch {
            let failure = SendFailure(action: .dead, code: "malformed", message: error.description)
            return .fail(raw: raw, jobID: Job.bestID(raw), payload: nil, failure: failure)
        }
        let email: EmailMessage
        do {
            email = try job.email.validated(defaultFrom: config.from)
        } catch {
            let failure = SendFailure(
                action: .dead, code: "invalid",
                message: "invalid job: email.\(error.field): \(error.reason.description)")
            return .fail(raw: raw, jobID: job.id, payload: job.payload, failure: failure)
        }
        if knownSent ?? alreadySent(job.id) { return .duplicate(raw: raw, jobID: job.id) }
        // Raw messages may name their recipients only in their headers.
        let due = reserveRate(recipients: email.recipientCount)
        rateBound = due > Monotonic.now()
        if !waitForRate(until: due) {
            // Terminating: the job stays in flight and unregistering puts it back at the
            // front of the queue, untouched.
            return .keep
        }
        let started = Monotonic.now()
        let startedMicroseconds = WallClock.microseconds()
        if transport.mayBlock {
            runtime.reportLater("busy \(job.id)")
            runtime.flushReports()
        }
        switch transport.send(email) {
        case .success(let messageID):
            let elapsed = Int((Monotonic.now() - started) / 1_000_000)
            runtime.reportLater("sent \(job.id) \(messageID) \(max(1, elapsed))")
            log.info(
                "sent",
                [
                    ("job.id", job.id), ("recipients", String(email.recipientCount)),
                    ("ses.message_id", messageID), ("elapsed_ms", String(elapsed)),
                ])
            if transport.lastSendWasResent {
                log.warning(
                    "request sent again on a new connection; SES may have sent it twice",
                    [("job.id", job.id), ("ses.message_id", messageID)])
            }
            pauseBeforeRecordingIfTesting()
            return .acknowledge(
                SentJob(
                    raw: raw, job: job, messageID: messageID, elapsedMilliseconds: elapsed,
                    startedMicroseconds: startedMicroseconds))
        case .failure(let failure):
            lastSendMilliseconds = max(1, Int((Monotonic.now() - started) / 1_000_000))
            return .fail(raw: raw, jobID: job.id, payload: job.payload, failure: failure)
        }
    }

    /// Reserves the recipients on this server and, with `rate_scope = cluster`, in the
    /// cluster-wide limit; the later of the two is when the send may start.
    private func reserveRate(recipients: Int) -> Int64 {
        if config.rateUnlimited { return 0 }
        armTestHoldIfRequested()
        let local = rate.reserve(recipients: recipients)
        RateSegment.testHoldNanoseconds = 0
        guard config.rateScope == .cluster else { return local }
        var wait: Int64 = 0
        withRedis(until: [.terminate]) { () throws(RedisError) in
            wait = try session.reserveClusterRate(
                recipients: recipients, rate: config.clusterRate, burst: config.clusterBurst)
        }
        return max(local, Monotonic.now() + wait * 1000)
    }

    /// Test-only: with `HWORKER_TEST_HOLD_RATE_LOCK=FILE:MS` in the environment, the one
    /// worker that manages to delete FILE holds the rate lock for MS milliseconds on its
    /// next reservation, so that a test can kill it inside the critical section.
    private func armTestHoldIfRequested() {
        guard let hook = testHoldHook, unlink(hook.path) == 0 else { return }
        RateSegment.testHoldNanoseconds = hook.milliseconds * 1_000_000
    }

    private lazy var testHoldHook: (path: String, milliseconds: Int64)? = {
        guard let value = ProcessEnvironment.current["HWORKER_TEST_HOLD_RATE_LOCK"],
            let colon = value.lastIndex(of: ":"),
            let milliseconds = Int64(value[value.index(after: colon)...])
        else { return nil }
        return (String(value[..<colon]), milliseconds)
    }()

    /// Whether the job's result is already recorded; when Redis cannot say, the job is sent
    /// (at-least-once).
    private func alreadySent(_ jobID: String) -> Bool {
        var sent = false
        withRedis(until: [.terminate]) { () throws(RedisError) in
            sent = try session.wasSent(jobID: jobID)
        }
        return sent
    }

    /// Sleeps until the rate allows the send, refreshing the heartbeat on
    /// long waits; a drain keeps waiting (the job is in hand), a terminate does not.
    private func waitForRate(until due: Int64) -> Bool {
        while Monotonic.now() < due {
            let next = min(due, lastHeartbeat + heartbeatRefresh)
            if runtime.wait(until: next, interruptedBy: [.terminate]) == .stopped { return false }
            heartbeatIfDue()
        }
        return true
    }

    /// How often the heartbeat is refreshed while the worker is busy.
    private var heartbeatRefresh: Int64 { Int64(config.heartbeatTimeout * 1e9 / 3) }

    /// How many jobs to take with the next acknowledgement: a full batch without a rate
    /// limit; under one, what this worker's share of the rate sends in about 50 ms, and
    /// one job while it waits for the rate, so that jobs it cannot send soon stay
    /// queued for the others.
    private var nextBatchSize: Int {
        if config.rateUnlimited { return batchSize }
        if rateBound { return 1 }
        let share = rate.effectiveRate / Double(max(1, config.workers)) * 0.05
        return max(1, min(batchSize, Int(share)))
    }

    /// Refreshes the heartbeat when a third of its lifetime has passed, so that a long
    /// batch of slow sends never looks like a dead worker.
    private func heartbeatIfDue() {
        guard Monotonic.now() >= lastHeartbeat + heartbeatRefresh else { return }
        withRedis(until: [.terminate]) { () throws(RedisError) in try session.heartbeat() }
        lastHeartbeat = Monotonic.now()
    }

    /// Test-only: with `HWORKER_TEST_PAUSE_BEFORE_ACK=MS`, waits between SES's answer and
    /// the acknowledgement, so that a test can kill the worker in that window.
    private func pauseBeforeRecordingIfTesting() {
        guard let milliseconds = testPauseBeforeAck else { return }
        runtime.wait(until: Monotonic.now() + milliseconds * 1_000_000, interruptedBy: [])
    }

    private lazy var testPauseBeforeAck: Int64? = {
        ProcessEnvironment.current["HWORKER_TEST_PAUSE_BEFORE_ACK"].flatMap { Int64($0) }
    }()

    /// Acknowledges the sent jobs in Redis, retrying through outages until that lands,
    /// and takes the next batch when the queue is busy and nothing else is due.
    private func recordSent() {
        guard !unacknowledged.isEmpty else { return }
        let take =
            runtime.stopRequest == nil && pauseReason == nil
                && Monotonic.now() - lastCheckIn < checkInInterval ? nextBatchSize : 0
        runtime.flushReports()
        // Repeats after a lost answer carry the same token, so the script runs once.
        let token = session.newToken()
        while true {
            let ok = withRedis(until: [.terminate]) { () throws(RedisError) in
                batch = try session.acknowledge(
                    unacknowledged, inFlight: unacknowledged.count + unprocessed, take: take,
                    token: token)
            }
            if ok { break }
            if runtime.stopRequest == .terminate {
                log.error(
                    "sends not recorded; the master records them once this worker is gone",
                    [("jobs", String(unacknowledged.count))])
                return
            }
        }
        unacknowledged.removeAll(keepingCapacity: true)
        runtime.reportLater("recorded")
    }

    /// Records a job's outcome in Redis, retrying through outages until it lands.
    private func finish(_ end: PendingEnd) {
        var outcome = "unrecorded"
        defer {
            runtime.reportLater("done \(outcome) \(lastSendMilliseconds)")
            lastSendMilliseconds = 0
        }
        let token = session.newToken()
        while true {
            let ok = withRedis(until: [.terminate]) { () throws(RedisError) in
                outcome = try record(end, token: token)
            }
            if ok { return }
            if runtime.stopRequest == .terminate {
                log.error(
                    "job outcome not recorded; the job stays in flight and a monitor will return it"
                )
                return
            }
        }
    }

    /// Records the outcome in Redis and logs it.
    ///
    /// - Returns: `sent`, `retry`, `dead` or `duplicate`, for the master's metrics.
    private func record(_ end: PendingEnd, token: String) throws(RedisError) -> String {
        switch end {
        case .keep:
            return "returned"
        case .duplicate(let raw, let jobID):
            try session.dropDuplicate(raw: raw)
            log.warning("already sent; not sending again", [("job.id", jobID)])
            return "duplicate"
        case .acknowledge(let sent):
            try session.acknowledge([sent], token: token)
            return "sent"
        case .fail(let raw, let jobID, let payload, let failure):
            if case .pause(let seconds) = failure.action {
                try session.pauseSending(
                    reason: failure.message, code: failure.code, seconds: seconds)
                lastCheckIn = .min / 2
            }
            if failure.action == .throttle { rate.reportThrottled() }
            let outcome = try session.fail(
                raw: raw, jobID: jobID, payload: payload, mode: mode(failure.action),
                reason: failure.message, code: failure.code, jitter: Double.random(in: 0..<1),
                throttleDelay: pauseDelay(failure.action), token: token)
            logOutcome(outcome, jobID: jobID, failure: failure)
            if case .dead = outcome { return "dead" }
            return "retry"
        }
    }

    private func mode(_ action: FailureAction) -> FailureMode {
        switch action {
        case .retry: return .retry
        case .throttle, .pause: return .throttle
        case .dead: return .dead
        }
    }

    private func pauseDelay(_ action: FailureAction) -> Double? {
        if case .pause(let seconds) = action { return seconds }
        return nil
    }

    private func logOutcome(_ outcome: FailureOutcome, jobID: String, failure: SendFailure) {
        let fields = [("job.id", jobID), ("ses.code", failure.code), ("reason", failure.message)]
        switch outcome {
        case .retried(let attempts, let delay):
            if case .pause = failure.action {
                let message =
                    failure.code == SESTransport.untrustedCertificateCode
                    ? "SES's certificate is not trusted; sending paused, job kept for later"
                    : "sending refused by SES; job kept for later"
                log.error(message, fields)
            }
            log.info(
                "retry", fields + [("attempts", String(attempts)), ("delay_ms", String(delay))])
        case .dead(let attempts):
            log.info("dead", fields + [("attempts", String(attempts))])
        }
    }

    private func unregister() {
        let ok = withRedis(until: [.terminate]) { () throws(RedisError) in try session.unregister()
        }
        log.info("worker stopped", [("clean", ok ? "true" : "false")])
    }

    /// Runs `body`, reconnecting with backoff while Redis is unreachable.
    ///
    /// - Parameters:
    ///   - interruptions: The stop requests that end the retries.
    ///   - body: The Redis work.
    /// - Returns: false when a stop request ended the retries.
    @discardableResult
    private func withRedis(
        until interruptions: Set<StopRequest>, _ body: () throws(RedisError) -> Void
    ) -> Bool {
        // Redis may keep the worker waiting: the master hears first what it sent.
        runtime.flushReports()
        var delay = 0.1
        while true {
            do {
                try body()
                if redisDown {
                    redisDown = false
                    log.info("redis reachable again")
                }
                return true
            } catch {
                if error.isConnectionLost { needsRegister = true }
                if !error.isConnectionLost {
                    log.error("redis error", [("error", error.description)])
                } else if !redisDown {
                    redisDown = true
                    log.error("redis unreachable; retrying", [("error", error.description)])
                }
                session.disconnect()
            }
            let pause = delay * Double.random(in: 0.5...1.0)
            let deadline = Monotonic.now() + Int64(pause * 1e9)
            if runtime.wait(until: deadline, interruptedBy: interruptions) == .stopped {
                return false
            }
            delay = min(delay * 2, 5)
        }
    }
}

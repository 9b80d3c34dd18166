// The operator's view of a queue: a stats snapshot, and the pause flag.
//
// `stats()` reads every key in one script, so the numbers agree with one
// another, then counts the last minute's delivery events in pages (the
// stream's entry ids carry Redis's millisecond time). Pausing only sets a
// flag: workers on every server read it and stop taking jobs, while
// producers keep enqueueing. Nothing here changes a job.

import FoundationEssentials
import HworkerRedis

/// The scripts of the operator's tools, each loaded on first use.
final class AdminScripts {
    let snapshot = RedisScript(QueueScripts.snapshot)
    let countEvents = RedisScript(QueueScripts.countEvents)
    let pause = RedisScript(QueueScripts.pause)
    let retryDeadLetter = RedisScript(QueueScripts.retryDeadLetter)
    let retryOldestDeadLetters = RedisScript(QueueScripts.retryOldestDeadLetters)
    let purgeDeadLetters = RedisScript(QueueScripts.purgeDeadLetters)
}

extension MailQueue {
    /// How many bytes of each in-flight job the snapshot returns to find its id.
    static let peekBytes = 4096
    /// Events counted per script call; pages keep each call short.
    static let eventPage = 1000
    /// The most event pages read for one snapshot (a lower bound beyond that).
    static let eventPageLimit = 200

    /// Reads a snapshot of the queue: lengths, counters, workers and the pause flag.
    ///
    /// ```swift
    /// let stats = try queue.stats()
    /// print(stats.queued, stats.inFlight, stats.counters.sent.lastMinute ?? 0)
    /// ```
    ///
    /// - Returns: The snapshot; counts and workers are from one instant, the
    ///   last-minute counts from the minute before it.
    /// - Throws: `QueueAdminError.redis` when Redis fails or answers unexpectedly.
    public func stats() throws(QueueAdminError) -> QueueStats {
        do {
            return try readStats()
        } catch {
            throw .redis(error)
        }
    }

    /// Pauses sending on every server: workers finish the job in hand and take no more.
    ///
    /// Enqueueing continues, and delayed jobs still move to the queue when due.
    /// Pausing a paused queue replaces the reason and the time.
    ///
    /// - Parameter reason: Why, for `stats` and the workers' logs.
    /// - Returns: The pause as recorded.
    /// - Throws: `QueueAdminError.redis`.
    @discardableResult
    public func pause(reason: String? = nil) throws(QueueAdminError) -> PauseState {
        do throws(RedisError) {
            let reply = try adminScripts.pause.run(
                on: try connected(), keys: [keys.paused],
                arguments: [RedisArgument(reason ?? ""), RedisArgument(reason == nil ? "0" : "1")])
            guard case .bulk(let value) = reply else {
                throw RedisError.unexpected(command: "pause script", reply: "\(reply)")
            }
            return Self.pauseState(value)
        } catch {
            throw .redis(error)
        }
    }

    /// Lets workers take jobs again.
    ///
    /// - Returns: The pause that ended, or `nil` when sending was not paused.
    /// - Throws: `QueueAdminError.redis`.
    @discardableResult
    public func resume() throws(QueueAdminError) -> PauseState? {
        do {
            let reply = try connected().command("GETDEL", keys.paused).checked("GETDEL")
            guard case .bulk(let value) = reply else { return nil }
            return Self.pauseState(value)
        } catch {
            throw .redis(error)
        }
    }

    /// Whether sending is paused, and why.
    ///
    /// - Returns: The pause, or `nil` when workers send.
    /// - Throws: `QueueAdminError.redis`.
    public func pauseState() throws(QueueAdminError) -> PauseState? {
        do {
            let reply = try connected().command("GET", keys.paused).checked("GET")
            guard case .bulk(let value) = reply else { return nil }
            return Self.pauseState(value)
        } catch {
            throw .redis(error)
        }
    }

    /// Runs Redis work, reporting its failure as `QueueAdminError.redis`.
    func adminCall<T>(_ body: () throws(RedisError) -> T) throws(QueueAdminError) -> T {
        do {
            return try body()
        } catch {
            throw .redis(error)
        }
    }

    /// Reads the flag's value; a value that is not our JSON still means paused.
    static func pauseState(_ value: [UInt8]) -> PauseState {
        if let state = try? JSONDecoder().decode(PauseState.self, from: Data(value)) {
            return state
        }
        return PauseState(reason: String(decoding: value, as: UTF8.self), pausedAt: nil)
    }

    private func readStats() throws(RedisError) -> QueueStats {
        let connection = try connected()
        let reply = try adminScripts.snapshot.run(
            on: connection,
            keys: [keys.queue, keys.delayed, keys.dead, keys.workers, keys.stats, keys.paused],
            arguments: [RedisArgument(keys.prefix), RedisArgument(Self.peekBytes)])
        let parts = reply.elements
        guard parts.count == 8, let now = parts[0].integer, let queued = parts[1].integer,
            let delayed = parts[2].integer, let dead = parts[4].integer
        else { throw .unexpected(command: "snapshot script", reply: "\(reply)") }
        let time = QueueTime(epochMilliseconds: now)
        let totals = Self.counters(parts[5])
        let recent = try recentEvents(since: now - 60_000)
        var workers: [WorkerState] = []
        for entry in parts[7].elements {
            workers.append(try worker(entry, connection: connection))
        }
        workers.sort { a, b in
            (a.host, a.masterPID ?? 0, a.slot ?? 0, a.generation ?? 0, a.id)
                < (b.host, b.masterPID ?? 0, b.slot ?? 0, b.generation ?? 0, b.id)
        }
        let counters = QueueCounters(
            sent: Counter(total: totals["sent"] ?? 0, lastMinute: recent.sent),
            retried: Counter(total: totals["retried"] ?? 0, lastMinute: recent.retry),
            dead: Counter(total: totals["dead"] ?? 0, lastMinute: recent.dead),
            recovered: Counter(total: totals["recovered"] ?? 0, lastMinute: nil),
            duplicatesSkipped: Counter(total: totals["duplicates_skipped"] ?? 0, lastMinute: nil))
        var paused: PauseState?
        if case .bulk(let value) = parts[6] { paused = Self.pauseState(value) }
        let ses = try connection.command("MGET", keys.sesPause, keys.sesAccount).checked("MGET")
            .elements
        var stats = QueueStats(
            queue: keys.name, time: time, paused: paused, queued: Int(queued),
            inFlight: workers.reduce(0) { $0 + $1.inFlight }, delayed: Int(delayed),
            nextDue: parts[3].string.flatMap(Double.init).map {
                QueueTime(epochMilliseconds: Int64($0))
            }, deadLetters: Int(dead), counters: counters, workers: workers)
        stats.sesPause = ses.first?.string
        if ses.count > 1, case .bulk(let json) = ses[1] {
            stats.sesAccount = try? JSONDecoder().decode(SESAccountSnapshot.self, from: Data(json))
        }
        return stats
    }

    /// The `stats` hash as numbers.
    private static func counters(_ reply: RedisReply) -> [String: Int] {
        var result: [String: Int] = [:]
        let flat = reply.elements
        var index = 0
        while index + 1 < flat.count {
            if let name = flat[index].string, let value = flat[index + 1].integer {
                result[name] = Int(value)
            }
            index += 2
        }
        return result
    }

    /// One worker from the snapshot: `{id, heartbeat PTTL, in-flight count, head, length}`.
    private func worker(_ entry: RedisReply, connection: RedisConnection) throws(RedisError)
        -> WorkerState
    {
        let fields = entry.elements
        guard fields.count == 5, let id = fields[0].string, let ttl = fields[1].integer,
            let count = fields[2].integer, let length = fields[4].integer
        else { throw .unexpected(command: "snapshot script", reply: "\(entry)") }
        var state = WorkerState(id: id)
        // PTTL answers -2 for a missing key and -1 for one without expiry.
        state.heartbeatTTL = ttl == -2 ? nil : Int(max(ttl, 0))
        state.inFlight = Int(count)
        guard case .bulk(let head) = fields[3] else { return state }
        if head.count >= Int(length) {
            state.job = Job.bestID(head)
        } else if let id = Job.peekID(head) {
            state.job = id
        } else {
            // The id is not in the first bytes: read the whole job once.
            let whole = try connection.command("LINDEX", keys.inFlight(worker: id), "0")
                .checked("LINDEX")
            if case .bulk(let bytes) = whole { state.job = Job.bestID(bytes) }
        }
        return state
    }

    /// Counts `sent`, `retry` and `dead` events from `since` (ms, Redis clock) on.
    private func recentEvents(since: Int64) throws(RedisError) -> (
        sent: Int, retry: Int, dead: Int
    ) {
        var start = "\(max(0, since))-0"
        var totals = (sent: 0, retry: 0, dead: 0)
        for _ in 0..<Self.eventPageLimit {
            let reply = try adminScripts.countEvents.run(
                on: try connected(), keys: [keys.events],
                arguments: [RedisArgument(start), RedisArgument(Self.eventPage)])
            let parts = reply.elements
            guard parts.count == 5, let read = parts[0].integer, let sent = parts[1].integer,
                let retry = parts[2].integer, let dead = parts[3].integer,
                let last = parts[4].string
            else { throw .unexpected(command: "count events script", reply: "\(reply)") }
            totals.sent += Int(sent)
            totals.retry += Int(retry)
            totals.dead += Int(dead)
            if read < Self.eventPage { break }
            start = "(" + last
        }
        return totals
    }
}

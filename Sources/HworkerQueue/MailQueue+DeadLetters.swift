// Reading, requeueing and purging dead letters.
//
// The dead letters are a list, newest first, never trimmed by the daemon.
// Lookups by id page through it from the newest end. A requeue passes the
// record's exact bytes to one script, which removes that record, pushes its
// job to the end of the queue that workers take from and resets the job's
// attempt count; a record that another client removed meanwhile is left
// alone and the lookup runs again. Requeueing everything walks the list from
// its old end in batches, so dead letters that arrive meanwhile (at the new
// end) do not shift the walk.

import FoundationEssentials
import HworkerRedis

extension MailQueue {
    /// Records read per round trip when looking a dead letter up.
    static let deadLetterPage = 200
    /// Records requeued per script call by `retryAllDeadLetters()`.
    static let retryBatch = 100

    /// The number of dead letters.
    ///
    /// - Returns: The length of the dead-letter list.
    /// - Throws: `QueueAdminError.redis`.
    public func deadLetterCount() throws(QueueAdminError) -> Int {
        do {
            let reply = try connected().command("LLEN", keys.dead).checked("LLEN")
            return Int(reply.integer ?? 0)
        } catch {
            throw .redis(error)
        }
    }

    /// Reads dead letters, newest first.
    ///
    /// ```swift
    /// for letter in try queue.deadLetters(limit: 20) {
    ///     print(letter.id, letter.code, letter.attempts, letter.reason)
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - limit: The most dead letters returned.
    ///   - offset: How many of the newest to pass over.
    /// - Returns: The dead letters, newest first.
    /// - Throws: `QueueAdminError.redis`.
    public func deadLetters(limit: Int, offset: Int = 0) throws(QueueAdminError) -> [DeadLetter] {
        guard limit > 0 else { return [] }
        do {
            return try readRecords(from: max(0, offset), count: limit).map(DeadLetter.init(record:))
        } catch {
            throw .redis(error)
        }
    }

    /// Finds the newest dead letter with an id.
    ///
    /// - Parameter id: The job's id.
    /// - Returns: The dead letter, or `nil` when none has that id.
    /// - Throws: `QueueAdminError.redis`.
    public func deadLetter(id: String) throws(QueueAdminError) -> DeadLetter? {
        try adminCall { () throws(RedisError) in try findRecord(id: id) }
    }

    /// Puts a dead letter's job back on the queue, to be taken next, with its attempts reset.
    ///
    /// The record leaves the dead letters, the job is pushed and its attempt
    /// count is cleared in one script. When several dead letters share the
    /// id, the newest is requeued.
    ///
    /// - Parameter id: The job's id.
    /// - Returns: The dead letter that was requeued.
    /// - Throws: `QueueAdminError.noSuchDeadLetter`, `.notRetryable` when the job
    ///   is not UTF-8 text, or `.redis`.
    @discardableResult
    public func retryDeadLetter(id: String) throws(QueueAdminError) -> DeadLetter {
        // Another client may requeue or purge the record between the lookup
        // and the script; when it does, the lookup runs again.
        for _ in 0..<5 {
            guard let letter = try adminCall({ () throws(RedisError) in try findRecord(id: id) })
            else { throw .noSuchDeadLetter(id: id) }
            guard letter.isRetryable else { throw .notRetryable(id: id) }
            let outcome = try adminCall { () throws(RedisError) in
                try adminScripts.retryDeadLetter.run(
                    on: try connected(), keys: [keys.dead, keys.queue, keys.attempts],
                    arguments: [RedisArgument(bytes: letter.record)]
                ).string
            }
            switch outcome {
            case "requeued": return letter
            case "gone": continue
            default: throw .notRetryable(id: id)
            }
        }
        throw .noSuchDeadLetter(id: id)
    }

    /// Puts the job of every dead letter whose job is text back on the queue.
    ///
    /// Works from the oldest dead letter in batches, each one script; dead
    /// letters whose jobs are not UTF-8 text stay where they are.
    ///
    /// - Returns: The ids requeued and the ids left in place.
    /// - Throws: `QueueAdminError.redis`; batches finished before the failure stay done.
    public func retryAllDeadLetters() throws(QueueAdminError) -> DeadLetterRetryReport {
        var report = DeadLetterRetryReport(requeued: [], notRetryable: [])
        do throws(RedisError) {
            while true {
                let reply = try adminScripts.retryOldestDeadLetters.run(
                    on: try connected(), keys: [keys.dead, keys.queue, keys.attempts],
                    arguments: [
                        RedisArgument(report.notRetryable.count), RedisArgument(Self.retryBatch),
                    ])
                let parts = reply.elements
                guard parts.count == 3, let read = parts[0].integer else {
                    throw RedisError.unexpected(
                        command: "retry dead letters script", reply: "\(reply)")
                }
                // The batch is read newest first; the report lists oldest first.
                report.requeued += parts[1].elements.compactMap(\.string).reversed()
                report.notRetryable += parts[2].elements.compactMap(\.string).reversed()
                if read < Self.retryBatch { break }
            }
        } catch {
            throw .redis(error)
        }
        return report
    }

    /// Deletes every dead letter.
    ///
    /// - Returns: How many were deleted.
    /// - Throws: `QueueAdminError.redis`.
    @discardableResult
    public func purgeDeadLetters() throws(QueueAdminError) -> Int {
        do {
            let reply = try adminScripts.purgeDeadLetters.run(
                on: try connected(), keys: [keys.dead], arguments: [])
            return Int(reply.integer ?? 0)
        } catch {
            throw .redis(error)
        }
    }

    private func readRecords(from start: Int, count: Int) throws(RedisError) -> [[UInt8]] {
        let reply = try connected().command(
            "LRANGE", keys.dead, String(start), String(start + count - 1)
        ).checked("LRANGE")
        return reply.elements.compactMap { element in
            if case .bulk(let bytes) = element { return bytes }
            return nil
        }
    }

    /// The newest record with the id, paging from the new end.
    private func findRecord(id: String) throws(RedisError) -> DeadLetter? {
        struct IDOnly: Decodable { var id: String? }
        var start = 0
        while true {
            let records = try readRecords(from: start, count: Self.deadLetterPage)
            for record in records {
                let found = (try? JSONDecoder().decode(IDOnly.self, from: Data(record)))?.id
                if found == id || (found == nil && Job.derivedID(record) == id) {
                    return DeadLetter(record: record)
                }
            }
            if records.count < Self.deadLetterPage { return nil }
            start += records.count
        }
    }
}

// The human form of `hworker-ses stats`: the queue's state, its counters
// and one row per registered worker, at most 100 columns wide for ids of
// ordinary length.

import HworkerQueue

extension StatsCommand {
    /// The widest job id shown in the worker table; longer ones are cut.
    static let jobColumnWidth = 36

    /// Renders a snapshot as text.
    ///
    /// - Parameter stats: The snapshot.
    /// - Returns: Lines of text, each ending in a newline.
    static func table(_ stats: QueueStats) -> String {
        var text = "queue \(stats.queue) at \(QueueCommand.time(stats.time)) (Redis clock)\n\n"
        text += QueueCommand.columns(stateRows(stats))
        text += "\n"
        text += QueueCommand.columns(counterRows(stats.counters), rightAligned: [1, 2])
        text += "\n"
        text += "workers: \(stats.workers.count) registered"
        let expired = stats.workers.filter { !$0.isAlive }.count
        text += expired > 0 ? ", \(expired) with an expired heartbeat\n" : "\n"
        if !stats.workers.isEmpty {
            text += QueueCommand.columns(workerRows(stats.workers), rightAligned: [1, 2, 3])
        }
        return text
    }

    private static func stateRows(_ stats: QueueStats) -> [[String]] {
        var sending = "yes"
        if let paused = stats.paused {
            sending = "PAUSED"
            if let since = paused.pausedAt {
                let ago = stats.time.epochMilliseconds - since.epochMilliseconds
                sending += " since \(QueueCommand.time(since))"
                sending += " (\(QueueCommand.duration(milliseconds: ago)) ago)"
            }
            if let reason = paused.reason, !reason.isEmpty {
                sending += ": " + QueueCommand.clipped(reason, 60)
            }
        }
        if let reason = stats.sesPause {
            sending = sending == "yes" ? "PAUSED by SES" : sending + "; and by SES"
            sending += ": " + QueueCommand.clipped(reason, 60)
        }
        var delayed = "\(stats.delayed)"
        if let due = stats.nextDue {
            let wait = due.epochMilliseconds - stats.time.epochMilliseconds
            delayed +=
                wait > 0
                ? ", next due in \(QueueCommand.duration(milliseconds: wait))"
                    + " (\(QueueCommand.time(due)))"
                : ", next one due now"
        }
        return [
            ["sending", sending],
            ["queued", "\(stats.queued)"],
            ["in flight", "\(stats.inFlight)"],
            ["delayed", delayed],
            ["dead letters", "\(stats.deadLetters)"],
        ] + rateRows(stats)
    }

    /// This server's rate and the SES account, when known.
    private static func rateRows(_ stats: QueueStats) -> [[String]] {
        var rows: [[String]] = []
        if let server = stats.server {
            let ahead = server.reservedAheadSeconds
            rows.append([
                "rate here",
                String(format2(server.effective)) + "/s in use of "
                    + String(format2(server.configured)) + "/s"
                    + (ahead > 0
                        ? ", sends reserved \(format2(ahead)) s ahead" : ", bucket has room"),
            ])
        }
        if let account = stats.sesAccount {
            let quota =
                account.max24HourSend < 0
                ? "unlimited" : "\(Int(account.sentLast24Hours)) of \(Int(account.max24HourSend))"
            rows.append([
                "SES account",
                "max \(format2(account.maxSendRate))/s, 24 h quota \(quota)"
                    + (account.sendingEnabled ? "" : ", SENDING DISABLED"),
            ])
        }
        return rows
    }

    private static func format2(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100)"
            + (fraction == 0 ? "" : fraction < 10 ? ".0\(fraction)" : ".\(fraction)")
    }

    private static func counterRows(_ counters: QueueCounters) -> [[String]] {
        let named: [(String, Counter)] = [
            ("sent", counters.sent), ("retried", counters.retried), ("dead", counters.dead),
            ("recovered", counters.recovered), ("duplicates skipped", counters.duplicatesSkipped),
        ]
        return [["counter", "total", "last minute"]]
            + named.map { name, counter in
                [name, "\(counter.total)", counter.lastMinute.map { "\($0)" } ?? "-"]
            }
    }

    private static func workerRows(_ workers: [WorkerState]) -> [[String]] {
        let header = ["host", "master pid", "slot", "gen", "heartbeat", "job", "since"]
        return [header]
            + workers.map { worker in
                [
                    worker.host, worker.masterPID.map { "\($0)" } ?? "-",
                    worker.slot.map { "\($0)" } ?? "-", worker.generation.map { "\($0)" } ?? "-",
                    worker.heartbeatTTL.map {
                        "\(QueueCommand.duration(milliseconds: Int64($0))) left"
                    } ?? "expired",
                    worker.job.map { QueueCommand.clipped($0, jobColumnWidth) } ?? "-",
                    worker.since.map(QueueCommand.time) ?? "-",
                ]
            }
    }
}

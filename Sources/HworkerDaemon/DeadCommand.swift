// `hworker-ses dead`: list, show, requeue and purge the dead letters of a
// queue.
//
// Every change goes through `MailQueue`: a requeue is one script per dead
// letter (record removed, job pushed to the end workers take from, attempts
// reset), and each one prints what it did. Purging asks first on a terminal
// and needs `--yes` anywhere else, since it cannot be undone.

import Glibc
import HworkerQueue

/// The `dead` command.
enum DeadCommand {
    static let help = """
        usage: hworker-ses dead SUBCOMMAND \(QueueCommand.commonOptions)

        subcommands:
          list [--limit N] [--json]   the newest dead letters (default 20), newest first
          show ID [--json]            one dead letter with its job
          retry ID [ID ...]           put these jobs back on the queue, to be taken next,
                                      with their attempts reset
          retry --all                 the same for every dead letter whose job is text
          purge [--yes]               delete every dead letter (asks first on a terminal)

        Jobs that were not UTF-8 text (kept as job_base64) cannot be retried.

        """

    /// How many dead letters `list` shows without `--limit`.
    static let defaultLimit = 20

    /// Runs the command.
    ///
    /// - Parameter arguments: The command line after `dead`.
    /// - Returns: The exit code.
    static func main(_ arguments: [String]) -> Int32 {
        QueueCommand.run("dead") {
            var options = OptionReader(arguments)
            if options.flag("--help") { return CommandLineTool.printOut(help) }
            let target = try QueueTarget.take(&options)
            guard let subcommand = options.positional() else {
                throw UsageError("a subcommand is required: list, show, retry or purge")
            }
            switch subcommand {
            case "list": return try list(&options, target)
            case "show": return try show(&options, target)
            case "retry": return try retry(&options, target)
            case "purge": return try purge(&options, target)
            default:
                throw UsageError("unknown subcommand \"\(subcommand)\" (list, show, retry, purge)")
            }
        }
    }

    private static func list(_ options: inout OptionReader, _ target: QueueTarget) throws
        -> Int32
    {
        let json = options.flag("--json")
        var limit = defaultLimit
        if let text = options.value("--limit") {
            guard let value = Int(text), value >= 0 else {
                throw UsageError("--limit: expected a whole number, got \"\(text)\"")
            }
            limit = value
        }
        try QueueCommand.rejectUnknown(options)
        let queue = try target.open()
        let total = try queue.deadLetterCount()
        let letters = try queue.deadLetters(limit: limit)
        if json {
            let page = DeadLetterPage(queue: queue.keys.name, total: total, deadLetters: letters)
            return CommandLineTool.printOut(QueueCommand.json(page) + "\n")
        }
        var text = "queue \(queue.keys.name): \(total) dead letter\(total == 1 ? "" : "s")"
        text += letters.count < total ? ", the newest \(letters.count) shown\n" : "\n"
        if !letters.isEmpty { text += "\n" + table(letters) }
        return CommandLineTool.printOut(text)
    }

    /// Two lines per dead letter: its fields in columns, then its reason,
    /// indented, so that long ids and reasons both fit in 100 columns.
    private static func table(_ letters: [DeadLetter]) -> String {
        var rows = [["failed at", "id", "attempts", "code / reason"]]
        for letter in letters {
            rows.append([
                QueueCommand.time(letter.failedAt), QueueCommand.clipped(letter.id, 60),
                "\(letter.attempts)", letter.code.isEmpty ? "-" : letter.code,
            ])
        }
        let lines = QueueCommand.columns(rows, rightAligned: [2]).split(separator: "\n")
        var text = lines.first.map { $0 + "\n" } ?? ""
        for (line, letter) in zip(lines.dropFirst(), letters) {
            text += line + "\n    " + QueueCommand.clipped(letter.reason, 96) + "\n"
        }
        return text
    }

    private static func show(_ options: inout OptionReader, _ target: QueueTarget) throws
        -> Int32
    {
        let json = options.flag("--json")
        guard let id = options.positional() else { throw UsageError("show needs a job id") }
        try QueueCommand.rejectUnknown(options)
        let queue = try target.open()
        guard let letter = try queue.deadLetter(id: id) else {
            throw QueueAdminError.noSuchDeadLetter(id: id)
        }
        if json { return CommandLineTool.printOut(QueueCommand.json(letter) + "\n") }
        let retryable = letter.isRetryable ? "yes" : "no (the job is not UTF-8 text)"
        var text = QueueCommand.columns([
            ["id:", letter.id],
            ["failed at:", letter.failedAt.rfc3339],
            ["attempts:", "\(letter.attempts)"],
            ["code:", letter.code.isEmpty ? "-" : letter.code],
            ["reason:", letter.reason],
            ["retryable:", retryable],
        ])
        if let job = letter.job {
            text += "job:\n" + job + "\n"
        } else if let base64 = letter.jobBase64 {
            text += "job (base64):\n" + base64 + "\n"
        }
        return CommandLineTool.printOut(text)
    }

    private static func retry(_ options: inout OptionReader, _ target: QueueTarget) throws
        -> Int32
    {
        let all = options.flag("--all")
        var ids: [String] = []
        while let id = options.positional() { ids.append(id) }
        try QueueCommand.rejectUnknown(options)
        if all, !ids.isEmpty { throw UsageError("retry takes ids or --all, not both") }
        if !all, ids.isEmpty { throw UsageError("retry needs job ids, or --all") }
        let queue = try target.open()
        if all { return try retryAll(queue) }
        var failures = 0
        for id in ids {
            do {
                let letter = try queue.retryDeadLetter(id: id)
                let attempts = "\(letter.attempts) attempt\(letter.attempts == 1 ? "" : "s")"
                CommandLineTool.printOut(
                    "requeued \(id) on queue \(queue.keys.name), to be taken next (dead since "
                        + "\(QueueCommand.time(letter.failedAt)) after \(attempts); attempts reset)\n"
                )
            } catch .redis(let error) {
                throw error
            } catch {
                CommandLineTool.printError("hworker-ses dead: \(error)\n")
                failures += 1
            }
        }
        return failures == 0 ? 0 : 1
    }

    private static func retryAll(_ queue: MailQueue) throws -> Int32 {
        let report = try queue.retryAllDeadLetters()
        var text = ""
        for id in report.requeued { text += "requeued \(id)\n" }
        text += "requeued \(report.requeued.count) dead letters on queue \(queue.keys.name)"
        if !report.notRetryable.isEmpty {
            text += "; kept \(report.notRetryable.count) whose jobs are not UTF-8 text: "
            text += report.notRetryable.joined(separator: " ")
        }
        return CommandLineTool.printOut(text + "\n")
    }

    private static func purge(_ options: inout OptionReader, _ target: QueueTarget) throws
        -> Int32
    {
        let confirmed = options.flag("--yes")
        try QueueCommand.rejectUnknown(options)
        let queue = try target.open()
        if !confirmed {
            guard isatty(0) == 1 else {
                throw UsageError("purge deletes every dead letter; add --yes to confirm")
            }
            let count = try queue.deadLetterCount()
            CommandLineTool.printOut(
                "delete all \(count) dead letters of queue \(queue.keys.name)? [y/N] ")
            guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                return CommandLineTool.printOut("nothing deleted\n")
            }
        }
        let count = try queue.purgeDeadLetters()
        return CommandLineTool.printOut(
            "purged \(count) dead letter\(count == 1 ? "" : "s") from queue \(queue.keys.name)\n")
    }
}

/// The JSON of `dead list --json`: `{"version", "queue", "total", "dead_letters"}`.
struct DeadLetterPage: Encodable {
    var version = 1
    var queue: String
    var total: Int
    var deadLetters: [DeadLetter]

    enum CodingKeys: String, CodingKey {
        case version, queue, total
        case deadLetters = "dead_letters"
    }
}

// `hworker-ses enqueue`: one email from flags, a JSON job, a raw MIME
// message, or many JSON jobs, one per line. Every job is validated before
// anything is pushed; the ids of the enqueued jobs are printed. With
// `--send-at` the jobs wait in the delayed set until that time.

import FoundationEssentials
import Glibc
import HworkerQueue
import HworkerRedis

/// The `enqueue` command.
enum EnqueueCommand {
    static let help = """
        usage: hworker-ses enqueue --config FILE [--queue NAME] [--redis ADDR]
                                   [--send-at TIME] MODE

          --send-at TIME   send at TIME instead of now: RFC 3339 (2026-12-04T17:00:00Z)
                           or milliseconds since the epoch; applies to every job

        modes (one of):
          flags:   --to ADDR [--to ADDR ...] [--cc ADDR] [--bcc ADDR] [--from ADDR]
                   [--reply-to ADDR] --subject TEXT (--text TEXT | --text-file FILE)
                   [--html TEXT | --html-file FILE] [--attach FILE[;type=MIME/TYPE]]
                   [--header 'Name: value'] [--tag name=value] [--configuration-set NAME]
                   [--payload TEXT] [--id ID]
          --json [FILE]    one job or email as JSON, from FILE or standard input
                           (--payload and --id may override its fields)
          --raw [FILE]     a complete MIME message with a From header, from FILE or
                           standard input; --to/--cc/--bcc set the envelope
                           recipients, --payload/--id apply to the job
          --jsonl FILE     many jobs, one JSON per line ("-" for standard input)

        """

    /// Runs the command.
    static func main(_ arguments: [String]) -> Int32 {
        var options = OptionReader(arguments)
        if options.flag("--help") { return CommandLineTool.printOut(help) }
        return QueueCommand.run("enqueue") {
            let sendAt = try sendTime(&options)
            let queue = try QueueCommand.open(&options)
            if let path = options.value("--jsonl") {
                return try enqueueLines(path: path, options: &options, queue: queue, sendAt: sendAt)
            }
            let job = try buildJob(&options)
            try QueueCommand.rejectUnknown(options)
            let id = try queue.enqueue(job.email, payload: job.payload, id: job.id, sendAt: sendAt)
            return CommandLineTool.printOut(id + "\n")
        }
    }

    /// Removes and parses `--send-at TIME`.
    private static func sendTime(_ options: inout OptionReader) throws -> QueueTime? {
        guard let text = options.value("--send-at") else { return nil }
        do {
            return try QueueTime(parsing: text)
        } catch {
            throw UsageError("--send-at: \(error)")
        }
    }

    private static func buildJob(_ options: inout OptionReader) throws -> Job {
        let id = options.value("--id")
        let payload = options.value("--payload")
        if options.flag("--json") {
            let emailFlags = [
                "--to", "--cc", "--bcc", "--from", "--reply-to", "--subject", "--text",
                "--html", "--text-file", "--html-file", "--attach", "--header", "--tag",
                "--configuration-set", "--raw",
            ]
            if let mixed = emailFlags.first(where: { flag in
                options.unknown.contains { $0 == flag || $0.hasPrefix(flag + "=") }
            }) {
                throw UsageError("--json reads the whole job; \(mixed) cannot be combined with it")
            }
            let data = try readInput(options.positional())
            var job = try decodeJob(data, where: "the JSON job")
            if let id { job.id = id }
            if let payload { job.payload = payload }
            return job
        }
        var email = EmailMessage()
        email.to = options.values("--to")
        email.cc = options.values("--cc")
        email.bcc = options.values("--bcc")
        email.from = options.value("--from")
        if options.flag("--raw") {
            email.raw = try readInput(options.positional())
            return Job(id: id ?? UUID().uuidString.lowercased(), email: email, payload: payload)
        }
        email.replyTo = options.values("--reply-to")
        email.subject = options.value("--subject")
        email.text = try options.value("--text") ?? options.value("--text-file").map(readText)
        email.html = try options.value("--html") ?? options.value("--html-file").map(readText)
        email.configurationSet = options.value("--configuration-set")
        email.headers = try options.values("--header").map(parseHeader)
        email.tags = try options.values("--tag").map(parseTag)
        email.attachments = try options.values("--attach").map(readAttachment)
        return Job(id: id ?? UUID().uuidString.lowercased(), email: email, payload: payload)
    }

    /// Enqueues a JSON-lines file in pipelined batches after validating every line.
    private static func enqueueLines(
        path: String, options: inout OptionReader, queue: MailQueue, sendAt: QueueTime?
    ) throws -> Int32 {
        try QueueCommand.rejectUnknown(options)
        let data = try readInput(path == "-" ? nil : path)
        let name = path == "-" ? "standard input" : path
        var jobs: [Job] = []
        var lineNumbers: [Int] = []
        var lineNumber = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            jobs.append(try decodeJob(Array(line), where: "\(name):\(lineNumber)"))
            lineNumbers.append(lineNumber)
        }
        // Every job is checked before the first is pushed.
        for (index, job) in jobs.enumerated() {
            do {
                _ = try MailQueue.validatedJob(job.email, payload: job.payload, id: job.id)
            } catch {
                guard case .invalid(let field, let reason) = error else { throw error }
                throw UsageError("\(name):\(lineNumbers[index]): \(field): \(reason)")
            }
        }
        // On a terminal, a progress bar on standard error after each pipelined batch.
        let showProgress = isatty(2) == 1 && jobs.count > 5_000
        var start = 0
        while start < jobs.count {
            let end = min(start + 5_000, jobs.count)
            try queue.enqueue(Array(jobs[start..<end]), sendAt: sendAt)
            start = end
            if showProgress { drawProgress(done: end, total: jobs.count) }
        }
        if showProgress { CommandLineTool.printError("\n") }
        return CommandLineTool.printOut("enqueued \(jobs.count) jobs\n")
    }

    /// Redraws `[#####     ]  52,000 / 100,000` in place on standard error.
    private static func drawProgress(done: Int, total: Int) {
        let width = 30
        let filled = width * done / max(1, total)
        let bar =
            String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        CommandLineTool.printError("\r[\(bar)] \(done) / \(total) jobs")
    }

    /// Decodes `{"id", "email", "payload"}`, or a bare email object.
    private static func decodeJob(_ data: [UInt8], where place: String) throws -> Job {
        do {
            let job = try Job.decode(data)
            return job.id.hasPrefix("auto-") ? Job(email: job.email, payload: job.payload) : job
        } catch {
            if let email = try? JSONDecoder().decode(EmailMessage.self, from: Data(data)),
                !email.recipients.isEmpty || email.raw != nil
            {
                return Job(email: email)
            }
            throw UsageError("\(place): \(error.reason)")
        }
    }

    private static func parseHeader(_ text: String) throws -> EmailMessage.Header {
        guard let colon = text.firstIndex(of: ":") else {
            throw UsageError("--header: expected 'Name: value', got \"\(text)\"")
        }
        return EmailMessage.Header(
            name: String(text[..<colon]).trimmingWhitespace(),
            value: String(text[text.index(after: colon)...]).trimmingWhitespace())
    }

    private static func parseTag(_ text: String) throws -> EmailMessage.Tag {
        guard let equals = text.firstIndex(of: "=") else {
            throw UsageError("--tag: expected name=value, got \"\(text)\"")
        }
        return EmailMessage.Tag(
            name: String(text[..<equals]), value: String(text[text.index(after: equals)...]))
    }

    private static func readAttachment(_ spec: String) throws -> EmailMessage.Attachment {
        var path = spec
        var type = "application/octet-stream"
        let parts = spec.split(separator: ";", maxSplits: 1)
        if parts.count == 2, parts[1].hasPrefix("type=") {
            path = String(parts[0])
            type = String(parts[1].dropFirst(5))
        } else {
            type = guessType(path)
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return EmailMessage.Attachment(filename: name, contentType: type, data: try readInput(path))
    }

    private static func guessType(_ path: String) -> String {
        let types = [
            "pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv", "html": "text/html",
            "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
            "json": "application/json", "zip": "application/zip", "ics": "text/calendar",
        ]
        let ext = path.split(separator: ".").last.map { $0.lowercased() } ?? ""
        return types[ext] ?? "application/octet-stream"
    }

    private static func readText(_ path: String) throws -> String {
        let bytes = try readInput(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw UsageError("\(path): not valid UTF-8")
        }
        return text
    }

    /// Reads a whole file, or standard input when `path` is nil.
    private static func readInput(_ path: String?) throws -> [UInt8] {
        let fd = path.map { open($0, O_RDONLY | O_CLOEXEC) } ?? 0
        guard fd >= 0 else {
            throw UsageError("\(path ?? "-"): \(String(cString: strerror(errno)))")
        }
        defer { if path != nil { close(fd) } }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            if count < 0 {
                throw UsageError("\(path ?? "standard input"): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return bytes
    }
}

/// A command line that cannot be carried out as given.
struct UsageError: Error {
    var message: String

    init(_ message: String) {
        self.message = message
    }
}

// What the commands that talk to a queue share: opening the queue that a
// configuration file names (with `--queue` and `--redis` overrides), turning
// failures into messages and exit codes, and writing JSON and times the same
// way everywhere.
//
// Exit codes: 0 done, 1 Redis or another run-time failure, 2 bad usage or
// input, 78 a configuration file that cannot be used.

import FoundationEssentials
import Glibc
import HworkerQueue
import HworkerRedis

/// Shared plumbing of `enqueue`, `stats`, `dead`, `pause` and `resume`.
enum QueueCommand {
    /// The options every queue command takes, for help texts.
    static let commonOptions = "--config FILE [--queue NAME] [--redis ADDR]"

    /// Opens the queue named by `--config`, applying `--queue` and `--redis`.
    ///
    /// - Parameter options: The command line; the three options are removed from it.
    /// - Returns: A connected queue client.
    /// - Throws: `UsageError` without `--config` or with a bad `--redis`, `ConfigError`
    ///   for a bad file, `EnqueueError` when the queue name is bad or Redis is unreachable.
    static func open(_ options: inout OptionReader) throws -> MailQueue {
        try QueueTarget.take(&options).open()
    }

    /// Runs a command's body and maps what it throws to a message on standard
    /// error and an exit code.
    ///
    /// - Parameters:
    ///   - name: The command's name, for messages.
    ///   - body: The command; returns its exit code.
    /// - Returns: The exit code.
    static func run(_ name: String, _ body: () throws -> Int32) -> Int32 {
        do {
            return try body()
        } catch let error as UsageError {
            CommandLineTool.printError("hworker-ses \(name): \(error.message)\n")
            return CommandLineTool.exitUsage
        } catch let error as ConfigError {
            CommandLineTool.printError("hworker-ses: \(error)\n")
            return exitConfigError
        } catch let error as EnqueueError {
            CommandLineTool.printError("hworker-ses \(name): \(error)\n")
            if case .invalid = error { return CommandLineTool.exitUsage }
            return 1
        } catch {
            CommandLineTool.printError("hworker-ses \(name): \(error)\n")
            return 1
        }
    }

    /// Refuses arguments nobody asked for.
    ///
    /// - Parameter options: The command line after every known option was taken.
    /// - Throws: `UsageError` naming the leftovers.
    static func rejectUnknown(_ options: OptionReader) throws {
        guard options.unknown.isEmpty else {
            throw UsageError("unexpected arguments: \(options.unknown.joined(separator: " "))")
        }
    }

    /// A value as one line of JSON, keys sorted, slashes unescaped.
    ///
    /// - Parameter value: The value.
    /// - Returns: The JSON text without a newline.
    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The values written here are built of strings and numbers only.
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// A time to the second, `2026-12-04T16:53:06Z`.
    ///
    /// - Parameter time: The time.
    /// - Returns: RFC 3339 without the fraction.
    static func time(_ time: QueueTime) -> String {
        let full = time.rfc3339
        guard let dot = full.lastIndex(of: ".") else { return full }
        return String(full[..<dot]) + "Z"
    }

    /// A duration for people: `850ms`, `4.2s`, `3m05s`, `2h07m`, `3d04h`.
    ///
    /// - Parameter milliseconds: The duration; negative values count as zero.
    /// - Returns: The duration in its two largest units.
    static func duration(milliseconds: Int64) -> String {
        let ms = max(0, milliseconds)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 { return "\(ms / 1000).\(ms % 1000 / 100)s" }
        let seconds = ms / 1000
        if seconds < 3600 { return "\(seconds / 60)m\(two(seconds % 60))s" }
        if seconds < 86_400 { return "\(seconds / 3600)h\(two(seconds / 60 % 60))m" }
        return "\(seconds / 86_400)d\(two(seconds / 3600 % 24))h"
    }

    /// Text cut to a number of characters, with an ellipsis when cut.
    ///
    /// - Parameters:
    ///   - text: The text; line breaks become spaces.
    ///   - width: The most characters kept.
    /// - Returns: The text, shortened if needed.
    static func clipped(_ text: String, _ width: Int) -> String {
        let flat = String(text.map { $0.isNewline ? " " : $0 })
        guard flat.count > width else { return flat }
        return String(flat.prefix(max(0, width - 1))) + "…"
    }

    /// Lays rows out in columns: left-aligned, two spaces apart, trailing spaces dropped.
    ///
    /// - Parameters:
    ///   - rows: The cells, the header first.
    ///   - rightAligned: The columns to right-align (numbers).
    /// - Returns: One line per row, each ending in a newline.
    static func columns(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        var widths: [Int] = []
        for row in rows {
            for (index, cell) in row.enumerated() {
                if index == widths.count { widths.append(0) }
                widths[index] = max(widths[index], cell.count)
            }
        }
        var text = ""
        for row in rows {
            var line = ""
            for (index, cell) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                line +=
                    (index == 0 ? "" : "  ")
                    + (rightAligned.contains(index) ? pad + cell : cell + pad)
            }
            while line.hasSuffix(" ") { line.removeLast() }
            text += line + "\n"
        }
        return text
    }
}

/// The queue a command works on, as the command line names it; nothing is
/// read or connected until `open()`, so a command can take these options
/// before its positional arguments.
struct QueueTarget {
    /// The configuration file.
    var configPath: String
    /// `--queue`, replacing the file's queue name.
    var queue: String?
    /// `--redis`, replacing the file's Redis address.
    var redis: String?

    /// Removes `--config`, `--queue` and `--redis` from the command line.
    ///
    /// - Parameter options: The command line.
    /// - Returns: The target.
    /// - Throws: `UsageError` without `--config` or with a bad `--redis`.
    static func take(_ options: inout OptionReader) throws -> QueueTarget {
        guard let path = options.value("--config") else {
            throw UsageError("--config FILE is required (it names the queue and the Redis server)")
        }
        let target = QueueTarget(
            configPath: path, queue: options.value("--queue"), redis: options.value("--redis"))
        if let redis = target.redis, RedisOptions.Address.parse(redis) == nil {
            throw UsageError("--redis: expected host:port or unix:/path, got \"\(redis)\"")
        }
        return target
    }

    /// Reads the configuration and connects to the queue's Redis server.
    ///
    /// - Returns: A connected queue client.
    /// - Throws: `ConfigError` for a bad file, `EnqueueError` when the queue name is bad or
    ///   Redis is unreachable.
    func open() throws -> MailQueue {
        var config = try ConfigParser.load(path: configPath)
        if let queue { config.queue = queue }
        if let redis { config.redis = redis }
        return try MailQueue(name: config.queue, redis: config.redisOptions)
    }
}

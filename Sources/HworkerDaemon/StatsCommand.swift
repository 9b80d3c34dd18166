// `hworker-ses stats`: a snapshot of a queue as a table or as JSON, once or
// every few seconds.
//
// With `--watch` on a terminal each refresh draws over the last one (cursor
// home, every line cleared to its end, the rest of the screen cleared);
// elsewhere refreshes are appended, one JSON object per line with `--json`.
// A failed refresh is shown and the next one tries again with a new
// connection, so the watch survives a Redis restart. Ctrl-C ends it.

import Glibc
import HworkerQueue
import HworkerRate

/// The `stats` command.
enum StatsCommand {
    static let help = """
        usage: hworker-ses stats \(QueueCommand.commonOptions) [--json] [--watch [SECONDS]]

          --json               one JSON object (shape in the README, "stats --json")
          --watch [SECONDS]    refresh every SECONDS (default 2); in place on a terminal,
                               else appended (one JSON object per line with --json)

        """

    /// The refresh interval when `--watch` has no number.
    static let defaultInterval = 2.0

    /// Runs the command.
    ///
    /// - Parameter arguments: The command line after `stats`.
    /// - Returns: The exit code.
    static func main(_ arguments: [String]) -> Int32 {
        QueueCommand.run("stats") {
            var rest = arguments
            let interval = try takeWatch(&rest)
            var options = OptionReader(rest)
            if options.flag("--help") { return CommandLineTool.printOut(help) }
            let json = options.flag("--json")
            let queue = try QueueCommand.open(&options)
            try QueueCommand.rejectUnknown(options)
            guard let interval else {
                var stats = try queue.stats()
                stats.server = localServerRate(queue.keys.name, workers: stats.workers)
                return CommandLineTool.printOut(
                    json ? QueueCommand.json(stats) + "\n" : table(stats))
            }
            watch(queue, every: interval, json: json)
        }
    }

    /// Removes `--watch [SECONDS]` or `--watch=SECONDS`.
    ///
    /// - Parameter arguments: The command line.
    /// - Returns: The interval in seconds, or `nil` without `--watch`.
    /// - Throws: `UsageError` for an interval that is not a positive number.
    static func takeWatch(_ arguments: inout [String]) throws -> Double? {
        guard
            let index = arguments.firstIndex(where: { $0 == "--watch" || $0.hasPrefix("--watch=") })
        else { return nil }
        var text: String?
        if arguments[index].hasPrefix("--watch=") {
            text = String(arguments[index].dropFirst("--watch=".count))
        } else if index + 1 < arguments.count, !arguments[index + 1].hasPrefix("--") {
            text = arguments.remove(at: index + 1)
        }
        arguments.remove(at: index)
        guard let text else { return defaultInterval }
        guard let seconds = Double(text), seconds >= 0.1, seconds <= 86_400 else {
            throw UsageError("--watch: expected seconds between 0.1 and 86400, got \"\(text)\"")
        }
        return seconds
    }

    /// Refreshes until the process is interrupted.
    private static func watch(_ queue: MailQueue, every interval: Double, json: Bool) -> Never {
        let terminal = isatty(1) == 1
        var first = true
        while true {
            var text: String
            var failed = false
            do {
                var stats = try queue.stats()
                stats.server = localServerRate(queue.keys.name, workers: stats.workers)
                text = json ? QueueCommand.json(stats) + "\n" : table(stats)
            } catch {
                text = "hworker-ses stats: \(error) (retrying every \(seconds(interval)))\n"
                failed = true
            }
            if terminal {
                if !json { text += "\nevery \(seconds(interval)); Ctrl-C to stop\n" }
                redraw(text, clearScreen: first)
            } else if failed {
                CommandLineTool.printError(text)
            } else {
                CommandLineTool.printOut(json || first ? text : "\n" + text)
            }
            first = false
            sleep(seconds: interval)
        }
    }

    /// Draws over the previous frame: home, each line cleared to its end, the rest cleared.
    private static func redraw(_ text: String, clearScreen: Bool) {
        let escape = "\u{1B}["
        var frame = clearScreen ? escape + "2J" : ""
        frame += escape + "H"
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            frame += line + escape + "K\n"
        }
        CommandLineTool.printOut(frame + escape + "J")
    }

    private static func seconds(_ interval: Double) -> String {
        interval == interval.rounded() ? "\(Int(interval))s" : "\(interval)s"
    }

    /// Sleeps, resuming after signals that did not end the process.
    private static func sleep(seconds: Double) {
        var remaining = timespec(
            tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var left = timespec()
        while nanosleep(&remaining, &left) != 0, errno == EINTR { remaining = left }
    }
}

extension StatsCommand {
    /// The rate segment of a master on this server whose workers serve this queue in
    /// this Redis, if any (another master may use a queue of the same name elsewhere).
    static func localServerRate(_ queue: String, workers: [WorkerState]) -> ServerRate? {
        let host = LocalHost.name
        let masters = Set(workers.filter { $0.host == host }.compactMap(\.masterPID))
        guard let (pid, name) = SharedMemoryJanitor.liveSegment(queue: queue, masters: masters),
            let segment = try? RateSegment.attach(name: name)
        else { return nil }
        return ServerRate(
            masterPID: pid, configured: segment.rate, effective: segment.effectiveRate,
            reservedAheadSeconds: segment.reservedAheadSeconds)
    }
}

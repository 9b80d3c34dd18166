// The operator commands' parsing and rendering, without Redis: `--watch`
// values, durations, the stats table and the usage text.

import HworkerQueue
import Testing

@testable import HworkerDaemon

@Suite("Operator commands")
struct QueueCommandTests {
    private func watch(_ arguments: [String]) throws -> (Double?, [String]) {
        var rest = arguments
        let interval = try StatsCommand.takeWatch(&rest)
        return (interval, rest)
    }

    @Test func watchTakesAnOptionalNumberOfSeconds() throws {
        #expect(try watch(["--json"]) == (nil, ["--json"]))
        #expect(try watch(["--watch"]) == (2, []))
        #expect(try watch(["--watch", "--json"]) == (2, ["--json"]))
        #expect(try watch(["--watch", "5", "--json"]) == (5, ["--json"]))
        #expect(try watch(["--watch=0.5"]) == (0.5, []))
        #expect(throws: UsageError.self) { try watch(["--watch", "soon"]) }
        #expect(throws: UsageError.self) { try watch(["--watch=0"]) }
    }

    @Test func durationsUseTheirTwoLargestUnits() {
        let cases: [(Int64, String)] = [
            (-5, "0ms"), (850, "850ms"), (4_250, "4.2s"), (185_000, "3m05s"),
            (7_620_000, "2h07m"), (273_600_000, "3d04h"),
        ]
        for (milliseconds, text) in cases {
            #expect(QueueCommand.duration(milliseconds: milliseconds) == text)
        }
    }

    @Test func timesAreShownToTheSecond() {
        let time = QueueTime(epochMilliseconds: 1_796_403_186_948)
        #expect(QueueCommand.time(time) == "2026-12-04T16:53:06Z")
    }

    @Test func columnsAlignAndDropTrailingSpaces() {
        let text = QueueCommand.columns([["a", "bb", "c"], ["ccc", "d", ""]], rightAligned: [1])
        #expect(text == "a    bb  c\nccc   d\n")
    }

    @Test func theTableShowsAPauseWorkersAndUnknownCounts() {
        var worker = WorkerState(id: "mail-1:4242:0.3")
        worker.heartbeatTTL = 59_700
        worker.inFlight = 1
        worker.job = "order-4711"
        let idle = WorkerState(id: "mail-1:4242:1.3")
        let stats = QueueStats(
            queue: "mail", time: QueueTime(epochMilliseconds: 1_796_403_371_000),
            paused: PauseState(
                reason: "SES review", pausedAt: QueueTime(epochMilliseconds: 1_796_403_186_000)),
            queued: 12, inFlight: 1, delayed: 2,
            nextDue: QueueTime(epochMilliseconds: 1_796_403_375_200), deadLetters: 1,
            counters: QueueCounters(
                sent: Counter(total: 100, lastMinute: 20),
                retried: Counter(total: 3, lastMinute: 0),
                dead: Counter(total: 1, lastMinute: 0),
                recovered: Counter(total: 0, lastMinute: nil),
                duplicatesSkipped: Counter(total: 0, lastMinute: nil)),
            workers: [worker, idle])
        let text = StatsCommand.table(stats)
        #expect(
            text.contains(
                "sending       PAUSED since 2026-12-04T16:53:06Z (3m05s ago): SES review\n"))
        #expect(text.contains("delayed       2, next due in 4.2s (2026-12-04T16:56:15Z)\n"))
        #expect(text.contains("recovered               0            -\n"))
        #expect(text.contains("workers: 2 registered, 1 with an expired heartbeat\n"))
        #expect(text.contains("mail-1        4242     0    3  59.7s left  order-4711  -\n"))
        #expect(text.contains("mail-1        4242     1    3  expired     -           -\n"))
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 100 })
    }

    @Test func usageNamesTheOperatorCommands() {
        for command in ["stats --config FILE", "dead SUBCOMMAND", "pause --config FILE", "resume"] {
            #expect(CommandLineTool.usage.contains(command))
        }
        #expect(DeadCommand.help.contains("retry --all"))
        #expect(StatsCommand.help.contains("--watch [SECONDS]"))
    }
}

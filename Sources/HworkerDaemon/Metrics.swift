// The master's metrics, in Prometheus text format.
//
// Workers report each finished job on their status pipe (`done <outcome>
// <elapsed ms>`); the master counts them and keeps a histogram of send
// latency. Gauges come from the master's own bookkeeping and the shared rate
// segment. Counters start at zero with each master, as Prometheus expects
// of a process's counters.

/// Counters and a latency histogram for one master.
struct Metrics {
    /// Jobs finished, by outcome (`sent`, `retry`, `dead`, `duplicate`).
    var jobs: [String: UInt64] = ["sent": 0, "retry": 0, "dead": 0, "duplicate": 0, "returned": 0]
    /// Child starts and exits, by role.
    var childStarts: [String: UInt64] = ["worker": 0, "monitor": 0]
    /// Child exits that were not clean, by role.
    var childCrashes: [String: UInt64] = ["worker": 0, "monitor": 0]
    /// Reloads accepted and refused.
    var reloads: [String: UInt64] = ["accepted": 0, "refused": 0]

    /// Upper bounds of the send-latency buckets, in seconds.
    static let latencyBounds: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    private(set) var latencyCounts = [UInt64](repeating: 0, count: latencyBounds.count)
    private(set) var latencySum = 0.0
    private(set) var latencyCount: UInt64 = 0

    /// Records one finished job.
    ///
    /// - Parameters:
    ///   - outcome: `sent`, `retry`, `dead` or `duplicate`.
    ///   - milliseconds: How long the SES request took (0 when none was made).
    mutating func recordJob(outcome: String, milliseconds: Int) {
        jobs[outcome, default: 0] += 1
        guard outcome == "sent" || outcome == "retry" || outcome == "dead", milliseconds > 0 else {
            return
        }
        let seconds = Double(milliseconds) / 1000
        for (index, bound) in Self.latencyBounds.enumerated() where seconds <= bound {
            latencyCounts[index] += 1
        }
        latencySum += seconds
        latencyCount += 1
    }

    /// The exposition text.
    ///
    /// - Parameter gauges: Current values: name, help, value.
    /// - Returns: Prometheus text format, version 0.0.4.
    func render(gauges: [(String, String, Double)]) -> String {
        var out = ""
        labelled(
            &out, "hworker_jobs_total", "Jobs finished by this server's workers.", "outcome", jobs)
        labelled(&out, "hworker_child_starts_total", "Children started.", "role", childStarts)
        labelled(
            &out, "hworker_child_crashes_total", "Children that exited uncleanly.", "role",
            childCrashes)
        labelled(&out, "hworker_reloads_total", "Configuration reloads.", "result", reloads)
        family(&out, "hworker_send_seconds", "histogram", "Duration of SES requests.")
        for (index, bound) in Self.latencyBounds.enumerated() {
            out += "hworker_send_seconds_bucket{le=\"\(bound)\"} \(latencyCounts[index])\n"
        }
        out += "hworker_send_seconds_bucket{le=\"+Inf\"} \(latencyCount)\n"
        out += "hworker_send_seconds_sum \(latencySum)\n"
        out += "hworker_send_seconds_count \(latencyCount)\n"
        for (name, help, value) in gauges {
            family(&out, name, "gauge", help)
            out += "\(name) \(value)\n"
        }
        return out
    }

    private func labelled(
        _ out: inout String, _ name: String, _ help: String, _ label: String,
        _ values: [String: UInt64]
    ) {
        family(&out, name, "counter", help)
        for (value, count) in values.sorted(by: { $0.key < $1.key }) {
            out += "\(name){\(label)=\"\(value)\"} \(count)\n"
        }
    }

    private func family(_ out: inout String, _ name: String, _ type: String, _ help: String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }
}

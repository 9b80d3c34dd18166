// What the master tells a child when it starts it.
//
// The handoff travels as one JSON line on the child's standard input, a pipe
// whose write end the master keeps open for the child's whole life: the
// child reads the line, then watches the pipe, and end-of-file means the
// master died. Credentials ride along already resolved, so they never appear
// on a command line and children never read credential files.

import FoundationEssentials

/// The kind of child process.
public enum ChildRole: String, Sendable, Codable {
    /// Takes jobs and sends them.
    case worker
    /// Returns the jobs of dead workers and moves due retries.
    case monitor
}

/// The master's instructions to one child.
public struct ChildHandoff: Sendable, Codable {
    /// Worker or monitor.
    public var role: ChildRole
    /// The child's slot, from 0.
    public var slot: Int
    /// The configuration generation the child belongs to.
    public var generation: Int
    /// The master's PID, for orphan detection.
    public var masterPID: Int32
    /// The worker id in the queue (workers only).
    public var workerID: String
    /// The name of the shared-memory rate segment.
    public var rateSegment: String
    /// The configuration, with credentials resolved.
    public var config: Configuration

    /// The handoff as one JSON line.
    func encodedLine() -> [UInt8] {
        // A struct of strings and numbers always encodes.
        var bytes = (try? Array(JSONEncoder().encode(self))) ?? []
        bytes.append(0x0A)
        return bytes
    }
}

/// The file descriptors a child is started with, besides 1 and 2.
enum ChildDescriptor {
    /// The handoff line, then end-of-file when the master dies.
    static let handoff: Int32 = 0
    /// Where the child writes status lines for the master:
    /// `ready` once it runs; a worker adds `busy <job id>` when a send starts,
    /// `sent <job id> <SES message id> <ms>` once SES accepted it (the master
    /// records those sends if the worker dies before it does), `recorded` once
    /// its accepted sends are in Redis, and `done <outcome> <ms>` for a job that
    /// ended without a send (retry, dead, duplicate, returned). A worker writes
    /// the lines of several jobs at once before it sends or waits.
    static let status: Int32 = 3
}

/// The exit code of a child that cannot run with its configuration; it is not restarted.
public let exitConfigError: Int32 = 78

// One log line per event, `key=value` (logfmt) or JSON, written with one
// write(2) per line, or per run of whole lines for a busy worker that holds
// them until its next wait, so that lines of the master and its children,
// which share the file, never interleave and nothing sits in a stdio buffer
// across a fork.
// Values of secret settings are never passed to the logger.

import Glibc

/// Writes log lines for one process.
public final class Logger {
    /// The least severe level written.
    public var level: LogLevel
    /// The line format.
    public var format: LogFormat
    /// Fields added to every line, such as `role` and `slot`.
    public var context: [(String, String)]
    /// Whether lines wait in memory for `flush()` (at most 64 KiB of them) instead of
    /// being written at once; errors are always written at once.
    public var holding = false {
        didSet { if !holding { flush() } }
    }
    private var path: String?
    private var fd: Int32
    private var held: [UInt8] = []

    /// Creates a logger that writes to `path`, or to standard error when `path` is nil.
    ///
    /// - Parameters:
    ///   - level: The least severe level written.
    ///   - format: logfmt or JSON.
    ///   - path: The log file, opened for appending.
    ///   - context: Fields added to every line.
    public init(level: LogLevel, format: LogFormat, path: String?, context: [(String, String)] = [])
    {
        self.level = level
        self.format = format
        self.context = context
        self.path = path
        fd = 2
        reopen()
    }

    /// Opens the log file again, after logrotate moved it away.
    public func reopen() {
        flush()
        guard let path else { return }
        let opened = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        if opened < 0 {
            let reason = String(cString: strerror(errno))
            write(level: .error, "cannot open log file", [("path", path), ("error", reason)])
            return
        }
        if fd > 2 { close(fd) }
        fd = opened
    }

    /// Switches to another file (or standard error), as after a reload.
    ///
    /// - Parameter newPath: The new log file, or nil for standard error.
    public func redirect(to newPath: String?) {
        guard newPath != path else { return }
        if fd > 2 { close(fd) }
        fd = 2
        path = newPath
        reopen()
    }

    /// Logs at debug level.
    public func debug(_ message: String, _ fields: [(String, String)] = []) {
        write(level: .debug, message, fields)
    }

    /// Logs at info level.
    public func info(_ message: String, _ fields: [(String, String)] = []) {
        write(level: .info, message, fields)
    }

    /// Logs at warning level.
    public func warning(_ message: String, _ fields: [(String, String)] = []) {
        write(level: .warning, message, fields)
    }

    /// Logs at error level.
    public func error(_ message: String, _ fields: [(String, String)] = []) {
        write(level: .error, message, fields)
    }

    /// Writes one line if `level` is enabled.
    ///
    /// - Parameters:
    ///   - level: The line's severity.
    ///   - message: A constant message; data goes in `fields`.
    ///   - fields: `key`, `value` pairs.
    public func write(level: LogLevel, _ message: String, _ fields: [(String, String)]) {
        guard level >= self.level else { return }
        let all =
            [("ts", Self.timestamp()), ("level", level.rawValue)] + context + [("msg", message)]
            + fields
        var line = format == .json ? Self.json(all) : Self.logfmt(all)
        line.append("\n")
        held.append(contentsOf: line.utf8)
        if !holding || level >= .error || held.count >= 65536 { flush() }
    }

    /// Writes the lines held back while `holding`.
    public func flush() {
        guard !held.isEmpty else { return }
        writeAll(fd, held)
        held.removeAll(keepingCapacity: true)
    }

    static func logfmt(_ fields: [(String, String)]) -> String {
        fields.map { key, value in
            let plain =
                !value.isEmpty
                && value.utf8.allSatisfy { $0 > 0x20 && $0 != 0x22 && $0 != 0x3D && $0 < 0x7F }
            return key + "=" + (plain ? value : quoted(value))
        }.joined(separator: " ")
    }

    static func json(_ fields: [(String, String)]) -> String {
        "{" + fields.map { quoted($0.0) + ":" + quoted($0.1) }.joined(separator: ",") + "}"
    }

    /// A double-quoted string with JSON escapes, so that no value can break a line.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// The current UTC time as `2026-12-04T16:20:00.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = Int(now.tv_nsec / 1_000_000)
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}

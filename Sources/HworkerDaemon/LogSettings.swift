// The logging settings a reload changes live, in the master and in every
// running child.
//
// The master applies them to its own logger, then writes them as one JSON
// line on each child's handoff pipe, the pipe the child already watches for
// its master's death; the child applies them to its logger. Rate and burst
// need no message: they live in the shared rate segment.

import FoundationEssentials

/// Logging settings that change without restarting children.
struct LogSettings: Codable, Equatable {
    /// The least severe level written.
    var level: LogLevel
    /// The line format.
    var format: LogFormat
    /// The log file; standard error when nil.
    var file: String?

    /// The logging settings of a configuration.
    ///
    /// - Parameter config: The configuration a reload accepted.
    init(_ config: Configuration) {
        level = config.logLevel
        format = config.logFormat
        file = config.logFile
    }

    /// The settings as one JSON line, far shorter than a pipe's atomic write size unless the
    /// log file's path is absurdly long.
    func encodedLine() -> [UInt8] {
        // Two enums and an optional string always encode.
        var bytes = (try? Array(JSONEncoder().encode(self))) ?? []
        bytes.append(0x0A)
        return bytes
    }

    /// Applies the settings to a logger, reopening its file when the path changed.
    ///
    /// - Parameter logger: The process's logger.
    func apply(to logger: Logger) {
        logger.level = level
        logger.format = format
        logger.redirect(to: file)
    }
}

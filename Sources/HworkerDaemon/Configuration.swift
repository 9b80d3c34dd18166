// The daemon's configuration: what `etc/hworker-ses.conf` can say, with the
// defaults of every key.
//
// The master reads and validates the file (see `ConfigParser`), resolves the
// AWS credentials once, and hands the result to each child as JSON on the
// child's standard input, so that secrets never appear on a command line and
// a reload never lets children read a half-written file.

import HworkerQueue
import HworkerRedis

/// Everything a master, worker or monitor needs to run.
public struct Configuration: Sendable, Equatable, Codable {
    /// The queue name.
    public var queue: String = "mail"
    /// The Redis address, `host:port` or `unix:/path`.
    public var redis: String = "127.0.0.1:6379"
    /// The Redis database number.
    public var redisDatabase: Int = 0
    /// The Redis ACL user.
    public var redisUser: String?
    /// The Redis password; secret.
    public var redisPassword: String?
    /// Worker processes on this server.
    public var workers: Int = 2
    /// Monitor processes on this server.
    public var monitors: Int = 1
    /// Recipients per second for this server.
    public var rate: Double = 1
    /// Whether `rate` follows SES's MaxSendRate (`rate = auto`).
    public var rateAuto = false
    /// Whether sends are not paced at all (`rate = unlimited`; for benchmarks and for
    /// peers that are not SES).
    public var rateUnlimited = false

    /// The rate as configured, for messages: `unlimited`, `auto (now 14/s)` or `14/s`.
    public var rateDescription: String {
        if rateUnlimited { return "unlimited" }
        return rateAuto ? "auto (now \(rate)/s)" : "\(rate)/s"
    }
    /// The share of SES's MaxSendRate used when `rate = auto`.
    public var rateHeadroom: Double = 0.9
    /// How often the SES account (rate, quota, sending enabled) is read, in seconds.
    public var rateRefresh: Double = 60
    /// Whether a monitor reads the SES account at all (`account_check = off` for peers
    /// whose reported quota means nothing, such as moto).
    public var accountCheck = true
    /// Extra recipients allowed at once after an idle period.
    public var burst: Double = 0
    /// Whether a cluster-wide limit in Redis applies on top of this server's rate.
    public var rateScope: RateScope = .server
    /// Recipients per second for all masters of the queue together (`rate_scope = cluster`).
    public var clusterRate: Double = 0
    /// Extra recipients the cluster-wide limit allows at once after an idle period.
    public var clusterBurst: Double = 0
    /// The default sender.
    public var from: String = ""
    /// The AWS region.
    public var region: String = ""
    /// An SES endpoint that replaces `https://email.<region>.amazonaws.com`.
    public var sesEndpoint: String?
    /// An explicit access key id.
    public var awsAccessKeyID: String?
    /// An explicit secret access key; secret.
    public var awsSecretAccessKey: String?
    /// An explicit session token; secret.
    public var awsSessionToken: String?
    /// The profile in the shared credentials file.
    public var awsProfile: String?
    /// The shared credentials file.
    public var awsCredentialsFile: String?
    /// Sends tried before a job becomes a dead letter.
    public var maxAttempts: Int = 8
    /// The first retry delay in seconds.
    public var retryBase: Double = 10
    /// The longest retry delay in seconds.
    public var retryMax: Double = 900
    /// The retry delay after throttling, in seconds.
    public var throttleDelay: Double = 2
    /// How long sending pauses after SES said the daily quota is used up, in seconds.
    public var quotaRecheck: Double = 300
    /// How long sending pauses after SES refused to send (paused account, credentials).
    public var pauseRecheck: Double = 60
    /// How long one send may take before the master kills the worker, in seconds.
    public var jobDeadline: Double = 120
    /// How long a drain may take before workers are killed, in seconds.
    public var drainDeadline: Double = 30
    /// How long one SES request may take, in seconds.
    public var sendTimeout: Double = 20
    /// How long connecting to SES or Redis may take, in seconds.
    public var connectTimeout: Double = 5
    /// How long a worker counts as alive without a heartbeat, in seconds.
    public var heartbeatTimeout: Double = 60
    /// How long the result of a sent job is kept, in seconds.
    public var resultTTL: Double = 604_800
    /// The approximate length the events stream is trimmed to.
    public var eventsMax: Int = 100_000
    /// The least severe log level written.
    public var logLevel: LogLevel = .info
    /// The log format.
    public var logFormat: LogFormat = .logfmt
    /// The log file; standard error when absent.
    public var logFile: String?
    /// Where the master serves Prometheus metrics (`host:port`); off when absent.
    public var metricsAddress: String?
    /// The pidfile of the master.
    public var pidfile: String?
    /// What workers send through: SES, or nothing (benchmarks of the queue alone).
    public var transport: TransportKind = .ses

    /// Creates a configuration with every default.
    public init() {}

    /// The Redis connection options this configuration describes.
    public var redisOptions: RedisOptions {
        RedisOptions(
            address: RedisOptions.Address.parse(redis) ?? .tcp(host: "127.0.0.1", port: 6379),
            database: redisDatabase, user: redisUser, password: redisPassword,
            connectTimeout: connectTimeout, commandTimeout: max(5, connectTimeout))
    }

    /// The retry policy this configuration describes.
    public var retryPolicy: RetryPolicy {
        RetryPolicy(
            maxAttempts: maxAttempts, baseDelay: retryBase, maxDelay: retryMax,
            throttleDelay: throttleDelay)
    }
}

/// The severity of a log line.
public enum LogLevel: String, Sendable, Codable, Comparable, CaseIterable {
    /// Details for developers.
    case debug
    /// Lifecycle events and one line per job.
    case info
    /// Something went wrong and was handled.
    case warning
    /// Something went wrong and needs an operator.
    case error

    private var rank: Int {
        switch self {
        case .debug: return 0
        case .info: return 1
        case .warning: return 2
        case .error: return 3
        }
    }

    /// Orders levels from `debug` to `error`.
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rank < rhs.rank }
}

/// Where the send rate is enforced.
public enum RateScope: String, Sendable, Codable, CaseIterable {
    /// Per server, in shared memory.
    case server
    /// Per server, and for all servers together in Redis.
    case cluster
}

/// What workers send through.
public enum TransportKind: String, Sendable, Codable, CaseIterable {
    /// Amazon SES (or the configured endpoint).
    case ses
    /// Nothing: jobs are acknowledged without sending, to measure the queue alone.
    case discard
}

/// How log lines are written.
public enum LogFormat: String, Sendable, Codable, CaseIterable {
    /// `key=value` pairs.
    case logfmt
    /// One JSON object per line.
    case json
}

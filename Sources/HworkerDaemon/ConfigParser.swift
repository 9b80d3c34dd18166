// Reading `hworker-ses.conf`: one `key = value` per line, `#` starts a
// comment, values may be double-quoted. Durations take a unit (`ms`, `s`,
// `m`, `h`, `d`; seconds without one). Every error names the file, the line
// and the key, and never repeats the value of a secret key.

import Glibc
import HworkerMail
import HworkerQueue
import HworkerRate
import HworkerRedis
import HworkerSES

/// A configuration file that cannot be used.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// The file.
    public var file: String
    /// The line, 1-based, or 0 when the problem is not on one line.
    public var line: Int
    /// The key concerned, if any.
    public var key: String?
    /// What is wrong.
    public var reason: String

    /// `file:line: key: reason`, the form editors and compilers use.
    public var description: String {
        let place = line > 0 ? "\(file):\(line)" : file
        return key.map { "\(place): \($0): \(reason)" } ?? "\(place): \(reason)"
    }
}

/// Parses configuration files.
public enum ConfigParser {
    /// The keys whose values are secret and never echoed in errors.
    static let secretKeys: Set<String> = [
        "redis_password", "aws_secret_access_key", "aws_session_token",
    ]

    /// Reads and validates a configuration file.
    ///
    /// - Parameter path: The file.
    /// - Returns: The configuration, with defaults for every key not given.
    /// - Throws: `ConfigError` naming the file, line and key.
    public static func load(
        path: String, environment: [String: String] = ProcessEnvironment.current
    ) throws(ConfigError) -> Configuration {
        let text = try readFile(path)
        return try parse(text, file: path, environment: environment)
    }

    /// Parses configuration text.
    ///
    /// - Parameters:
    ///   - text: The file's contents.
    ///   - file: The file name, for errors.
    ///   - environment: Supplies the region when the file does not (`AWS_REGION`,
    ///     `AWS_DEFAULT_REGION`).
    /// - Returns: The configuration.
    /// - Throws: `ConfigError` naming the file, line and key.
    public static func parse(
        _ text: String, file: String, environment: [String: String] = [:]
    ) throws(ConfigError) -> Configuration {
        var config = Configuration()
        config.region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? ""
        var seen: [String: Int] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated()
        {
            let number = index + 1
            let line = stripComment(rawLine).trimmingWhitespace()
            if line.isEmpty { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigError(
                    file: file, line: number, key: nil, reason: "expected `key = value`")
            }
            let key = String(line[..<equals]).trimmingWhitespace()
            var value = String(line[line.index(after: equals)...]).trimmingWhitespace()
            if value.hasPrefix("\"") {
                guard value.count >= 2, value.hasSuffix("\""),
                    value.dropFirst().dropLast().allSatisfy({ $0 != "\"" })
                else {
                    throw ConfigError(
                        file: file, line: number, key: key,
                        reason: "unbalanced double quotes (text after the closing quote, or none)")
                }
                value = String(value.dropFirst().dropLast())
            }
            if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw ConfigError(
                    file: file, line: number, key: key, reason: "control characters are not allowed"
                )
            }
            if let first = seen[key] {
                throw ConfigError(
                    file: file, line: number, key: key,
                    reason: "given twice (first on line \(first))")
            }
            seen[key] = number
            do {
                try apply(key: key, value: value, to: &config)
            } catch {
                throw ConfigError(file: file, line: number, key: key, reason: error.reason)
            }
        }
        try checkRequired(config, seen: seen, file: file)
        return config
    }

    private static func checkRequired(
        _ config: Configuration, seen: [String: Int], file: String
    ) throws(ConfigError) {
        for key in ["rate", "from"] where seen[key] == nil {
            throw ConfigError(file: file, line: 0, key: key, reason: "required key is missing")
        }
        if config.region.isEmpty {
            throw ConfigError(
                file: file, line: 0, key: "region",
                reason: "required key is missing (or set AWS_REGION)")
        }
        if config.rateScope == .cluster, config.clusterRate <= 0 {
            throw ConfigError(
                file: file, line: seen["rate_scope"] ?? 0, key: "cluster_rate",
                reason: "required with rate_scope = cluster")
        }
        if config.jobDeadline <= config.sendTimeout {
            throw ConfigError(
                file: file, line: seen["job_deadline"] ?? seen["send_timeout"] ?? 0,
                key: "job_deadline",
                reason: "must be longer than send_timeout (\(config.sendTimeout)s)")
        }
        let hasKey = config.awsAccessKeyID != nil
        let hasSecret = config.awsSecretAccessKey != nil
        if hasKey != hasSecret {
            let given = hasKey ? "aws_access_key_id" : "aws_secret_access_key"
            let missing = hasKey ? "aws_secret_access_key" : "aws_access_key_id"
            throw ConfigError(
                file: file, line: seen[given] ?? 0, key: given,
                reason: "is given without \(missing); set both or neither")
        }
        try checkRelations(config, seen: seen, file: file)
    }

    /// Rules between keys, each error naming the key that has to change.
    private static func checkRelations(
        _ c: Configuration, seen: [String: Int], file: String
    ) throws(ConfigError) {
        func fail(_ key: String, _ reason: String) -> ConfigError {
            ConfigError(file: file, line: seen[key] ?? 0, key: key, reason: reason)
        }
        do {
            _ = try MailAddress(parsing: c.from)
        } catch {
            throw fail("from", "invalid address \"\(c.from)\": \(error)")
        }
        if c.rateAuto, !c.accountCheck {
            throw fail("account_check", "must be on with rate = auto, which reads the account")
        }
        if c.heartbeatTimeout <= c.sendTimeout {
            throw fail("heartbeat_timeout", "must be longer than send_timeout (\(c.sendTimeout)s)")
        }
        if c.retryBase > c.retryMax {
            throw fail("retry_base", "must not be longer than retry_max (\(c.retryMax)s)")
        }
        for (key, path) in [("log_file", c.logFile), ("pidfile", c.pidfile)] {
            guard let path else { continue }
            let directory =
                path.contains("/")
                ? String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) : "."
            var status = stat()
            if !directory.isEmpty,
                stat(directory, &status) != 0 || status.st_mode & S_IFMT != S_IFDIR
            {
                throw fail(key, "directory \"\(directory)\" does not exist")
            }
        }
    }

    /// A value that does not fit its key.
    struct ValueError: Error {
        var reason: String
    }

    // The one place that knows every key; each case is one key.
    private static func apply(key: String, value: String, to c: inout Configuration)
        throws(ValueError)
    {
        switch key {
        case "queue":
            do {
                _ = try QueueKeys(name: value)
            } catch {
                throw ValueError(reason: error.description)
            }
            c.queue = value
        case "redis":
            guard RedisOptions.Address.parse(value) != nil else {
                throw ValueError(reason: "expected host:port or unix:/path, got \"\(value)\"")
            }
            c.redis = value
        case "redis_database": c.redisDatabase = try integer(value, in: 0...15)
        case "redis_user": c.redisUser = try nonEmpty(value)
        case "redis_password": c.redisPassword = try nonEmpty(value)
        case "workers": c.workers = try integer(value, in: 1...256)
        case "monitors": c.monitors = try integer(value, in: 1...16)
        case "rate":
            c.rateAuto = value == "auto"
            c.rateUnlimited = value == "unlimited"
            // Until SES answers, an automatic rate starts at the sandbox's 1 per second.
            c.rate =
                c.rateAuto || c.rateUnlimited
                ? 1 : try number(value, in: 0.01...Double(RateSegment.maxWindow))
        case "rate_headroom": c.rateHeadroom = try number(value, in: 0.05...1)
        case "rate_refresh": c.rateRefresh = try duration(value, in: 5...86_400)
        case "account_check": c.accountCheck = try onOff(value)
        case "rate_scope": c.rateScope = try choice(value, RateScope.self)
        case "cluster_rate": c.clusterRate = try number(value, in: 0.01...1_000_000)
        case "cluster_burst": c.clusterBurst = try number(value, in: 0...1_000_000)
        case "burst": c.burst = try number(value, in: 0...Double(RateSegment.maxWindow))
        case "from": c.from = try nonEmpty(value)
        case "region": c.region = try region(value)
        case "ses_endpoint": c.sesEndpoint = try endpoint(value)
        case "aws_access_key_id": c.awsAccessKeyID = try nonEmpty(value)
        case "aws_secret_access_key": c.awsSecretAccessKey = try nonEmpty(value)
        case "aws_session_token": c.awsSessionToken = try nonEmpty(value)
        case "aws_profile": c.awsProfile = try nonEmpty(value)
        case "aws_credentials_file": c.awsCredentialsFile = try nonEmpty(value)
        case "max_attempts": c.maxAttempts = try integer(value, in: 1...100)
        case "retry_base": c.retryBase = try duration(value, in: 0.001...86_400)
        case "retry_max": c.retryMax = try duration(value, in: 0.001...604_800)
        case "throttle_delay": c.throttleDelay = try duration(value, in: 0.001...3_600)
        case "quota_recheck": c.quotaRecheck = try duration(value, in: 1...86_400)
        case "pause_recheck": c.pauseRecheck = try duration(value, in: 1...86_400)
        case "job_deadline": c.jobDeadline = try duration(value, in: 1...86_400)
        case "drain_deadline": c.drainDeadline = try duration(value, in: 0.1...3_600)
        case "send_timeout": c.sendTimeout = try duration(value, in: 0.1...600)
        case "connect_timeout": c.connectTimeout = try duration(value, in: 0.1...120)
        case "heartbeat_timeout": c.heartbeatTimeout = try duration(value, in: 3...3_600)
        case "result_ttl": c.resultTTL = try duration(value, in: 1...31_536_000)
        case "events_max": c.eventsMax = try integer(value, in: 1...100_000_000)
        case "log_level": c.logLevel = try choice(value, LogLevel.self)
        case "log_format": c.logFormat = try choice(value, LogFormat.self)
        case "log_file": c.logFile = try nonEmpty(value)
        case "pidfile": c.pidfile = try nonEmpty(value)
        case "metrics_address": c.metricsAddress = try ipv4Address(value)
        case "transport": c.transport = try choice(value, TransportKind.self)
        default:
            throw ValueError(reason: "unknown key")
        }
    }

    private static func nonEmpty(_ value: String) throws(ValueError) -> String {
        guard !value.isEmpty else { throw ValueError(reason: "must not be empty") }
        return value
    }

    private static func integer(_ value: String, in range: ClosedRange<Int>) throws(ValueError)
        -> Int
    {
        guard let n = Int(value) else {
            throw ValueError(reason: "expected a whole number, got \"\(value)\"")
        }
        guard range.contains(n) else {
            throw ValueError(
                reason: "\(n) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    private static func number(_ value: String, in range: ClosedRange<Double>) throws(ValueError)
        -> Double
    {
        guard let n = Double(value), n.isFinite else {
            throw ValueError(reason: "expected a number, got \"\(value)\"")
        }
        guard range.contains(n) else {
            throw ValueError(
                reason: "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    /// Parses `250ms`, `30s`, `5m`, `2h`, `7d` or plain seconds.
    static func duration(_ value: String, in range: ClosedRange<Double>) throws(ValueError)
        -> Double
    {
        let units: [(String, Double)] = [
            ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3_600), ("d", 86_400),
        ]
        var scale = 1.0
        var digits = Substring(value)
        for (suffix, factor) in units where value.hasSuffix(suffix) {
            scale = factor
            digits = value.dropLast(suffix.count)
            break
        }
        guard let n = Double(digits), n.isFinite else {
            throw ValueError(
                reason: "expected a duration such as 500ms, 30s or 5m, got \"\(value)\"")
        }
        let seconds = n * scale
        guard range.contains(seconds) else {
            throw ValueError(
                reason: "\(value) is out of range \(range.lowerBound)s...\(range.upperBound)s")
        }
        return seconds
    }

    private static func choice<T: RawRepresentable & CaseIterable>(
        _ value: String, _ type: T.Type
    ) throws(ValueError) -> T where T.RawValue == String {
        guard let result = T(rawValue: value) else {
            let names = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValueError(reason: "expected one of \(names), got \"\(value)\"")
        }
        return result
    }

    private static func onOff(_ value: String) throws(ValueError) -> Bool {
        switch value {
        case "on", "yes", "true": return true
        case "off", "no", "false": return false
        default: throw ValueError(reason: "expected on or off, got \"\(value)\"")
        }
    }

    private static func ipv4Address(_ value: String) throws(ValueError) -> String {
        let parts = value.split(separator: ":")
        let octets = parts.first?.split(separator: ".", omittingEmptySubsequences: false) ?? []
        guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port),
            octets.count == 4,
            octets.allSatisfy({ Int($0).map { (0...255).contains($0) } ?? false })
        else {
            throw ValueError(
                reason: "expected an IPv4 host:port such as 127.0.0.1:9464, got \"\(value)\"")
        }
        return value
    }

    private static func region(_ value: String) throws(ValueError) -> String {
        let ok =
            !value.isEmpty
            && value.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D
            }
        guard ok else {
            throw ValueError(reason: "expected a region such as us-east-1, got \"\(value)\"")
        }
        return value
    }

    /// Checks the URL as the SES client will parse it, so that `check-config` and a
    /// reload refuse what the workers would. A URL with user info is not echoed: it may
    /// hold a password.
    private static func endpoint(_ value: String) throws(ValueError) -> String {
        let shown = value.contains("@") ? "(not shown: it has user info)" : "\"\(value)\""
        guard value.hasPrefix("http://") || value.hasPrefix("https://"), value.count > 8,
            !value.contains(" ")
        else { throw ValueError(reason: "expected an http:// or https:// URL, got \(shown)") }
        do {
            _ = try SESEndpoint(parsing: value)
        } catch .invalidEndpoint(_, let reason) {
            throw ValueError(reason: "\(reason) in \(shown)")
        } catch {
            throw ValueError(reason: "invalid URL \(shown)")
        }
        return value.hasSuffix("/") ? String(value.dropLast()) : value
    }

    private static func stripComment(_ line: Substring) -> Substring {
        var inQuotes = false
        for index in line.indices {
            let character = line[index]
            if character == "\"" { inQuotes.toggle() }
            if character == "#", !inQuotes { return line[..<index] }
        }
        return line
    }

    /// The largest configuration file read; anything bigger is not a configuration.
    static let maximumFileSize = 1 << 20

    /// Reads a regular file of at most `maximumFileSize` bytes; a FIFO, device or
    /// directory is refused without blocking (a reload must never hang the master).
    private static func readFile(_ path: String) throws(ConfigError) -> String {
        func failure(_ reason: String) -> ConfigError {
            ConfigError(file: path, line: 0, key: nil, reason: reason)
        }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot read: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw failure("not a regular file")
        }
        guard status.st_size <= maximumFileSize else {
            throw failure("larger than \(maximumFileSize) bytes; not a configuration file")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while bytes.count <= maximumFileSize {
            let count = read(fd, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            if count < 0 { throw failure("cannot read: \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        guard bytes.count <= maximumFileSize else {
            throw failure("larger than \(maximumFileSize) bytes; not a configuration file")
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and carriage returns.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }),
            let end = lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[start...end])
    }
}

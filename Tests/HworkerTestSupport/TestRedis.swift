// A private redis-server per test, on a unix socket in a temporary
// directory, so tests run in parallel without sharing state or ports.

import Foundation
import HworkerRedis

/// A redis-server started for one test and stopped when released.
public final class TestRedis: @unchecked Sendable {
    /// The directory holding the socket, the log and any data files.
    public let directory: String
    /// The TCP port, when started with one.
    public let port: Int?
    private let process: Process

    /// The server's unix socket.
    public var socketPath: String { directory + "/redis.sock" }

    /// The address as written in a configuration file.
    public var address: String { port.map { "127.0.0.1:\($0)" } ?? "unix:" + socketPath }

    /// Options for connecting to the server.
    public var options: RedisOptions {
        RedisOptions(address: .parse(address) ?? .unix(path: socketPath))
    }

    /// Starts a server and waits until it answers.
    ///
    /// - Parameters:
    ///   - tcp: Also listen on a free loopback TCP port.
    ///   - extra: More redis-server arguments, such as `--appendonly yes`.
    public init(tcp: Bool = false, extra: [String] = []) throws {
        directory = try TemporaryDirectory.make(prefix: "redis")
        port = tcp ? try FreePort.find() : nil
        process = Process()
        process.executableURL = URL(fileURLWithPath: try Executables.find("redis-server"))
        process.arguments =
            [
                "--port", String(port ?? 0), "--bind", "127.0.0.1", "--unixsocket",
                directory + "/redis.sock",
                "--unixsocketperm", "700", "--dir", directory, "--save", "", "--appendonly", "no",
                "--logfile", directory + "/redis.log",
            ] + extra
        try process.run()
        let socket = socketPath
        try Wait.until("redis-server answers", timeout: 10) {
            (try? RedisConnection(options: RedisOptions(address: .unix(path: socket)))) != nil
        }
    }

    deinit {
        stop()
    }

    /// Stops the server and waits for it.
    ///
    /// SIGKILL, because a process started from a test thread inherits a mask
    /// that blocks SIGTERM; the server's data is thrown away with it anyway.
    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Kills the server at once, as a crash would.
    public func crash() {
        stop()
    }

    /// Opens a new connection.
    public func connect() throws -> RedisConnection {
        try RedisConnection(options: options)
    }
}

/// Waiting on conditions with deadlines, never fixed sleeps.
public enum Wait {
    /// A condition that did not hold in time.
    public struct Timeout: Error, CustomStringConvertible {
        /// What was waited for.
        public var what: String
        /// Names the condition.
        public var description: String { "timed out waiting until \(what)" }
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` seconds pass.
    public static func until(
        _ what: String, timeout: Double, _ condition: () throws -> Bool
    ) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            usleep(20_000)
        }
        if try condition() { return }
        throw Timeout(what: what)
    }
}

/// Temporary directories for test servers and files.
public enum TemporaryDirectory {
    /// Creates a fresh directory under the system's temporary directory.
    public static func make(prefix: String) throws -> String {
        var template = Array((NSTemporaryDirectory() + "/hworker-\(prefix)-XXXXXX").utf8CString)
        guard let result = mkdtemp(&template) else { throw POSIXError(.EIO) }
        return String(cString: result)
    }
}

/// Free loopback ports.
public enum FreePort {
    /// Asks the kernel for a free loopback port.
    public static func find() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Finding programs on PATH.
public enum Executables {
    /// The full path of `name` on PATH.
    public static func find(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw POSIXError(.ENOENT)
    }

    /// The `hworker-ses` binary built next to the tests.
    public static func daemon() -> String {
        if let path = ProcessInfo.processInfo.environment["HWORKER_SES_BINARY"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/hworker-ses").path
    }

    /// The repository root.
    public static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }
}

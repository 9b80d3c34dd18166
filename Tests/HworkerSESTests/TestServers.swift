// Server processes that tests start: the scriptable stub (scripts/http-stub.py)
// and moto. Each test starts its own, on 127.0.0.1 only, and stops it by PID
// when the test's reference goes away (SIGTERM, then SIGKILL after a
// deadline), so tests stay independent when Swift Testing runs them in
// parallel.
//
// Foundation's Process spawns children with the signal mask of the calling
// thread, and test threads (Dispatch workers) block nearly every signal, so a
// child would never see SIGTERM. Children are therefore started through a
// one-line Python exec wrapper that clears the mask first.

import Foundation
import HworkerSES
import HworkerTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started by a test.
final class ChildProcess: @unchecked Sendable {
    let process: Process
    /// Signalled once by Foundation when the process has exited and been reaped.
    private let exited = DispatchSemaphore(value: 0)
    private var stopped = false

    /// Clears the inherited signal mask, then becomes the real program (same PID).
    private static let execUnblocked =
        "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); "
        + "os.execvp(sys.argv[1], sys.argv[1:])"

    /// Starts `arguments` (found on PATH) with output to `stdout` and `stderr`.
    init(_ arguments: [String], environment: [String: String]? = nil, stdout: Any?, stderr: Any?)
        throws
    {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.execUnblocked] + arguments
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = stderr
        process.terminationHandler = { [exited] _ in exited.signal() }
        try process.run()
    }

    deinit { stop() }

    /// SIGTERM by PID, then SIGKILL if it has not exited within five seconds.
    func stop() {
        guard !stopped else { return }
        stopped = true
        // Until the semaphore is signalled the child has not been reaped, so the PID is
        // still ours and cannot name another process.
        let pid = process.processIdentifier
        kill(pid, SIGTERM)
        if exited.wait(timeout: .now() + 5) == .timedOut {
            kill(pid, SIGKILL)
            exited.wait()
        }
    }

    /// Reads one line from `pipe`, giving up after `timeout` seconds.
    static func readLine(_ pipe: Pipe, timeout: TimeInterval) -> String? {
        let fd = pipe.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready < 0 && errno != EINTR { return nil }
            guard ready > 0 else { continue }
            var byte: UInt8 = 0
            if read(fd, &byte, 1) != 1 { return nil }
            if byte == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return nil
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    static func freePort() -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }
}

/// Failures of the test servers themselves.
struct TestServerError: Error, CustomStringConvertible {
    var description: String
}

/// The scriptable stub server of scripts/http-stub.py.
final class StubServer {
    /// One request the stub received.
    struct Recorded: Decodable {
        var method: String
        var path: String
        var headers: [[String]]
        var body: String
        var client_port: Int

        var bodyBytes: [UInt8] { [UInt8](Data(base64Encoded: body) ?? Data()) }

        func header(_ name: String) -> [String] {
            headers.filter { $0[0].lowercased() == name.lowercased() }.map { $0[1] }
        }
    }

    let url: String
    private let child: ChildProcess
    private let control: HTTPClient

    /// Stops the server now; tests call this in a `defer` so that the server lives (and is
    /// cleaned up) exactly as long as the test.
    func stop() { child.stop() }

    /// Starts the stub; with `tls`, it serves https with that certificate, at
    /// `https://<host>:<port>`.
    init(tls: TestCertificates? = nil, host: String = "127.0.0.1") throws {
        let output = Pipe()
        let script = PythonScript.directory.appendingPathComponent("http-stub.py").path
        let options = tls.map { ["--tls", $0.serverCertificate, $0.serverKey] } ?? []
        child = try ChildProcess(
            ["python3", script] + options, stdout: output, stderr: FileHandle.nullDevice)
        guard let port = ChildProcess.readLine(output, timeout: 30).flatMap(Int.init) else {
            throw TestServerError(description: "stub server did not report its port")
        }
        url = "\(tls == nil ? "http" : "https")://\(host):\(port)"
        control = try HTTPClient(options: .init(trustedCertificates: tls?.authority))
    }

    /// Makes the next answers raw text written as it is, each closing its connection.
    func respondRaw(_ answers: [String]) throws {
        try respondJSON(answers.map { ["raw": $0] })
    }

    /// Replaces the canned responses with objects as http-stub.py takes them.
    func respondJSON(_ list: [[String: Any]]) throws {
        let body = try JSONSerialization.data(withJSONObject: list)
        let answer = try control.perform(
            HTTPRequest(method: "POST", url: url + "/_stub/respond", body: [UInt8](body)))
        guard answer.status == 204 else {
            throw TestServerError(description: "stub refused responses: \(answer.status)")
        }
    }

    /// Replaces the canned responses: (status, headers, body, delay in ms).
    func respond(_ responses: [(Int, [(String, String)], String, Int)]) throws {
        let list = responses.map { status, headers, body, delay in
            [
                "status": status, "headers": headers.map { [$0.0, $0.1] }, "body": body,
                "delay_ms": delay,
            ] as [String: Any]
        }
        let body = try JSONSerialization.data(withJSONObject: list)
        let answer = try control.perform(
            HTTPRequest(method: "POST", url: url + "/_stub/respond", body: [UInt8](body)))
        guard answer.status == 204 else {
            throw TestServerError(description: "stub refused responses: \(answer.status)")
        }
    }

    /// Every request recorded so far.
    func requests() throws -> [Recorded] {
        let answer = try control.perform(HTTPRequest(method: "GET", url: url + "/_stub/requests"))
        return try JSONDecoder().decode([Recorded].self, from: Data(answer.body))
    }
}

/// A private certificate authority and a server certificate it signed, made with the
/// openssl command in a temporary directory, for https tests on 127.0.0.1.
struct TestCertificates {
    /// The authority's certificate (PEM): what a client must trust.
    let authority: String
    /// The server's certificate (PEM).
    let serverCertificate: String
    /// The server's private key (PEM).
    let serverKey: String

    /// Makes an authority and a server certificate for `names` (subjectAltName entries
    /// such as `DNS:localhost` or `IP:127.0.0.1`).
    init(names: String) throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("hworker-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
        authority = directory + "/ca.pem"
        serverCertificate = directory + "/server.pem"
        serverKey = directory + "/server.key"
        let caKey = directory + "/ca.key"
        let request = directory + "/server.csr"
        let extensions = directory + "/server.ext"
        try "subjectAltName=\(names)\n".write(toFile: extensions, atomically: true, encoding: .utf8)
        try Self.openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", authority,
            "-days", "2", "-subj", "/CN=hworker test authority",
        ])
        try Self.openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", serverKey, "-out", request,
            "-subj", "/CN=hworker test server",
        ])
        try Self.openssl([
            "x509", "-req", "-in", request, "-CA", authority, "-CAkey", caKey,
            "-CAcreateserial", "-out", serverCertificate, "-days", "2", "-extfile", extensions,
        ])
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestServerError(description: "openssl \(arguments[0]) failed")
        }
    }
}

/// A moto server with SES signature checking on and a key that may use SES.
///
/// With HWORKER_TEST_MOTO_URL set, that server is used instead of a new one; it must
/// accept the four unsigned set-up calls (for example, run without
/// INITIAL_NO_AUTH_ACTION_COUNT), and tests that need signature checking are skipped.
final class MotoServer {
    /// The sender address verified during set-up.
    static let sender = "sender@hworker.example"

    let url: String
    let credentials: AWSCredentials
    private let child: ChildProcess?
    private let logDirectory: URL?

    /// Starts moto_server on a free port (or uses HWORKER_TEST_MOTO_URL) and runs
    /// scripts/moto-setup.py against it.
    init() throws {
        if let external = ProcessInfo.processInfo.environment["HWORKER_TEST_MOTO_URL"] {
            url = external
            child = nil
            logDirectory = nil
        } else {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("hworker-moto-\(UUID().uuidString)")
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true)
            let log = directory.appendingPathComponent("moto.log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let logHandle = try FileHandle(forWritingTo: log)
            guard let port = ChildProcess.freePort() else {
                throw TestServerError(description: "no free port")
            }
            var environment = ProcessInfo.processInfo.environment
            environment["INITIAL_NO_AUTH_ACTION_COUNT"] = "4"
            child = try ChildProcess(
                ["moto_server", "-H", "127.0.0.1", "-p", "\(port)"], environment: environment,
                stdout: logHandle, stderr: logHandle)
            url = "http://127.0.0.1:\(port)"
            logDirectory = directory
        }

        let output = try PythonScript.run("moto-setup.py", [url, Self.sender])
        struct Key: Decodable {
            var access_key_id: String
            var secret_access_key: String
        }
        let key = try JSONDecoder().decode(Key.self, from: Data(output))
        credentials = AWSCredentials(
            accessKeyId: key.access_key_id, secretAccessKey: key.secret_access_key)
    }

    deinit {
        stop()
        if let logDirectory { try? FileManager.default.removeItem(at: logDirectory) }
    }

    /// Stops a server this object started; tests call this in a `defer`.
    func stop() { child?.stop() }

    /// A client for this server.
    func client(credentials: AWSCredentials? = nil) throws -> SESClient {
        try SESClient(
            configuration: .init(
                region: "us-east-1", credentials: credentials ?? self.credentials, endpoint: url,
                connectTimeout: .seconds(5), requestTimeout: .seconds(30)))
    }

    /// moto's `ses` section of /moto-api/data.json.
    func sesData() throws -> [String: Any] {
        let answer = try HTTPClient().perform(
            HTTPRequest(method: "GET", url: url + "/moto-api/data.json"))
        let object = try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
        return object?["ses"] as? [String: Any] ?? [:]
    }

    /// The stored record (in `Message` or `RawMessage`) with SES's message id.
    func record(_ kind: String, id: String) throws -> [String: Any]? {
        let list = try sesData()[kind] as? [[String: Any]] ?? []
        return list.first { $0["id"] as? String == id }
    }
}

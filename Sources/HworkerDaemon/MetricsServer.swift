// A tiny HTTP server for `GET /metrics`, run inside the master's event loop.
//
// The listening socket is non-blocking and polled with the master's other
// descriptors; each connection is served at once (read one request with a
// short timeout, write the answer, close), so a slow or silent client can
// hold the master for at most that timeout. It binds to loopback unless the
// configuration names another address.

import Glibc

/// The metrics listener.
final class MetricsServer {
    /// The listening socket, for `poll`.
    let fileDescriptor: Int32
    /// The address it listens on, as configured.
    let address: String

    /// Opens the listener.
    ///
    /// - Parameter address: `host:port`, an IPv4 host.
    /// - Throws: `SystemError` naming the call that failed.
    init(address: String) throws(SystemError) {
        guard let colon = address.lastIndex(of: ":"),
            let port = UInt16(address[address.index(after: colon)...])
        else { throw SystemError(call: "metrics address \(address)", code: EINVAL) }
        let host = String(address[..<colon])
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError(call: "socket") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var sockaddr = sockaddr_in()
        sockaddr.sin_family = sa_family_t(AF_INET)
        sockaddr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &sockaddr.sin_addr) == 1 else {
            close(fd)
            throw SystemError(call: "metrics address \(address)", code: EINVAL)
        }
        let bound = withUnsafePointer(to: &sockaddr) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let error = SystemError(call: "bind \(address)")
            close(fd)
            throw error
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        fileDescriptor = fd
        self.address = address
    }

    deinit {
        close(fileDescriptor)
    }

    /// Accepts and serves every waiting connection.
    ///
    /// - Parameter body: Makes the metrics text, called once per request for `/metrics`.
    func serve(_ body: () -> String) {
        while true {
            let client = accept(fileDescriptor, nil, nil)
            if client < 0 { return }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            respond(on: client, body)
            close(client)
        }
    }

    private func respond(on client: Int32, _ body: () -> String) {
        var timeout = timeval(tv_sec: 0, tv_usec: 500_000)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while !request.containsHeaderEnd, request.count < 16_384 {
            let count = read(client, &buffer, buffer.count)
            if count <= 0 { break }
            request += buffer[0..<count]
        }
        let line = String(decoding: request.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let (status, type, text): (String, String, String)
        if parts.count >= 2, parts[0] == "GET",
            parts[1] == "/metrics" || parts[1].hasPrefix("/metrics?")
        {
            (status, type, text) = ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body())
        } else {
            (status, type, text) = (
                "404 Not Found", "text/plain; charset=utf-8", "try GET /metrics\n"
            )
        }
        let head =
            "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(text.utf8.count)\r\n"
            + "Connection: close\r\n\r\n"
        writeAll(client, Array((head + text).utf8))
    }
}

extension [UInt8] {
    /// Whether an HTTP request's header block has ended.
    fileprivate var containsHeaderEnd: Bool {
        guard count >= 4 else { return false }
        for index in 0...(count - 4)
        where self[index] == 0x0D && self[index + 1] == 0x0A && self[index + 2] == 0x0D
            && self[index + 3] == 0x0A
        {
            return true
        }
        return false
    }
}

// One TCP connection of the HTTP client, plain or TLS, on a non-blocking
// socket whose every wait is a poll bounded by a deadline, so no request can
// hang past its timeout whatever the peer does.
//
// Owned by one HTTPClient and used from one thread at a time. The socket is
// closed (and the TLS session freed first) when the connection goes away.
// System calls retry EINTR and read errno at once; a failed connection is
// never used again.

import CSupport
import Glibc

/// The instant at which a wait gives up.
struct HTTPDeadline {
    let instant: ContinuousClock.Instant

    init(after duration: Duration) {
        instant = .now + duration
    }

    private init(instant: ContinuousClock.Instant) {
        self.instant = instant
    }

    /// The earlier of this deadline and `duration` from now.
    func capped(at duration: Duration) -> HTTPDeadline {
        HTTPDeadline(instant: min(instant, .now + duration))
    }

    /// Throws a timeout once the deadline has passed.
    func check(peer: String, doing: String) throws(HTTPClientError) {
        guard instant > .now else {
            throw HTTPClientError(.timeout, "\(peer): timed out \(doing)")
        }
    }

    /// The time left; zero once passed.
    var remaining: Duration {
        max(.zero, instant - .now)
    }

    /// Milliseconds left, rounded up, for poll; 0 once passed.
    var pollTimeout: Int32 {
        let left = instant - .now
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        let milliseconds =
            seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}

/// A connected socket, optionally wrapped in TLS.
final class HTTPConnection {
    /// `host:port` as connected, for messages.
    let peer: String
    private let socket: Int32
    private var tls: OpaquePointer?

    private init(socket: Int32, peer: String) {
        self.socket = socket
        self.peer = peer
    }

    deinit {
        if let tls { hw_tls_free(tls) }
        close(socket)
    }

    /// Resolves `host` and connects to the first address that answers.
    ///
    /// - Parameters:
    ///   - host: A DNS name or an address literal.
    ///   - port: The TCP port.
    ///   - deadline: When to give up.
    /// - Returns: The connection, with TCP_NODELAY and keep-alive probes on.
    /// - Throws: `HTTPClientError` of kind `resolve`, `connect` or `timeout`.
    static func open(
        host: String, port: Int, deadline: HTTPDeadline
    ) throws(HTTPClientError) -> HTTPConnection {
        let peer = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = hw_resolve(host, String(port), deadline.pollTimeout, &list)
        if resolved == HW_RESOLVE_TIMEOUT {
            throw HTTPClientError(.timeout, "\(host): timed out resolving the name")
        }
        guard resolved == 0, let first = list else {
            let reason =
                resolved == EAI_SYSTEM ? errnoText() : String(cString: gai_strerror(resolved))
            throw HTTPClientError(.resolve, "\(host): \(reason)")
        }
        defer { freeaddrinfo(first) }

        var addresses: [addrinfo] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let address = next?.pointee {
            addresses.append(address)
            next = address.ai_next
        }
        // Each address gets an equal share of the time left, so one that drops packets
        // (an unrouted IPv6, say) cannot use up the whole connect timeout.
        var failure = HTTPClientError(.connect, "\(peer): no address")
        for (index, address) in addresses.enumerated() {
            let share = deadline.remaining / (addresses.count - index)
            do {
                let socket = try connectSocket(
                    address, peer: peer, deadline: deadline.capped(at: share))
                return HTTPConnection(socket: socket, peer: peer)
            } catch {
                failure = error
            }
        }
        throw failure
    }

    /// One non-blocking connect to one address.
    private static func connectSocket(
        _ address: addrinfo, peer: String, deadline: HTTPDeadline
    ) throws(HTTPClientError) -> Int32 {
        let flags = Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        let socket = Glibc.socket(address.ai_family, flags, 0)
        guard socket >= 0 else {
            throw HTTPClientError(.connect, "\(peer): socket: \(errnoText())")
        }
        var connected = false
        defer { if !connected { close(socket) } }

        if Glibc.connect(socket, address.ai_addr, address.ai_addrlen) != 0 {
            guard errno == EINPROGRESS || errno == EINTR else {
                throw HTTPClientError(.connect, "\(peer): \(errnoText())")
            }
            try wait(socket, for: POLLOUT, until: deadline, peer: peer, doing: "connecting")
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(socket, SOL_SOCKET, SO_ERROR, &code, &length)
            guard code == 0 else {
                throw HTTPClientError(.connect, "\(peer): \(String(cString: strerror(code)))")
            }
        }
        var one: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, size)
        setsockopt(socket, SOL_SOCKET, SO_KEEPALIVE, &one, size)
        connected = true
        return socket
    }

    /// Runs the TLS handshake on the connection; later reads and writes are encrypted.
    ///
    /// - Parameters:
    ///   - context: The client's TLS context (see `HTTPTLSContext`).
    ///   - host: The name the certificate must carry.
    ///   - deadline: When to give up.
    /// - Throws: `HTTPClientError` of kind `tls` or `timeout`.
    func startTLS(
        context: UnsafeMutableRawPointer, host: String, deadline: HTTPDeadline
    ) throws(HTTPClientError) {
        var message = [CChar](repeating: 0, count: 512)
        guard let session = hw_tls_new(context, socket, host, &message, message.count) else {
            throw HTTPClientError(.tls, "\(peer): \(String(nulTerminated: message))")
        }
        tls = session
        while true {
            try deadline.check(peer: peer, doing: "in the TLS handshake")
            let result = hw_tls_handshake(session)
            if result > 0 { return }
            try waitForTLS(result, doing: "in the TLS handshake", deadline: deadline)
        }
    }

    /// Writes all of `bytes`.
    ///
    /// - Throws: `HTTPClientError` of kind `send`, `tls` or `timeout`.
    func write(_ bytes: [UInt8], deadline: HTTPDeadline) throws(HTTPClientError) {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(HTTPClientError) in try write(buffer, deadline: deadline) }
        }
        try result.get()
    }

    private func write(
        _ bytes: UnsafeRawBufferPointer, deadline: HTTPDeadline
    ) throws(HTTPClientError) {
        var offset = 0
        while offset < bytes.count {
            try deadline.check(peer: peer, doing: "sending")
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            if let tls {
                let result = hw_tls_write(tls, rest.baseAddress, rest.count)
                if result > 0 {
                    offset += result
                } else {
                    try waitForTLS(result, doing: "sending", deadline: deadline)
                }
                continue
            }
            let written = send(socket, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL))
            if written >= 0 {
                offset += written
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                try Self.wait(socket, for: POLLOUT, until: deadline, peer: peer, doing: "sending")
            } else if errno != EINTR {
                throw HTTPClientError(.send, "\(peer): \(errnoText())")
            }
        }
    }

    /// Reads what has arrived, waiting for at least one byte.
    ///
    /// - Returns: The number of bytes read; 0 when the peer closed the connection.
    /// - Throws: `HTTPClientError` of kind `receive`, `tls` or `timeout`.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: HTTPDeadline)
        throws(HTTPClientError) -> Int
    {
        while true {
            // A peer that never lets the socket run dry would otherwise never time out.
            try deadline.check(peer: peer, doing: "receiving")
            if let tls {
                let result = hw_tls_read(tls, buffer.baseAddress, buffer.count)
                if result > 0 { return result }
                if result == HW_TLS_CLOSED { return 0 }
                try waitForTLS(result, doing: "receiving", deadline: deadline)
                continue
            }
            let count = recv(socket, buffer.baseAddress, buffer.count, 0)
            if count >= 0 { return count }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                try Self.wait(socket, for: POLLIN, until: deadline, peer: peer, doing: "receiving")
            } else if errno != EINTR {
                throw HTTPClientError(.receive, "\(peer): \(errnoText())")
            }
        }
    }

    /// Whether the connection can carry another request: the peer has neither closed it
    /// nor sent anything unasked since the last answer. Over TLS, records that carry no
    /// data (TLS 1.3 session tickets, key updates) may arrive after an answer; they are
    /// read here and do not count.
    var isIdleAndOpen: Bool {
        while true {
            if let tls, hw_tls_pending(tls) > 0 { return false }
            var entry = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, 0)
            if ready == 0 { return true }
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0, let tls else { return false }
            var byte: UInt8 = 0
            guard hw_tls_read(tls, &byte, 1) == HW_TLS_WANT_READ else { return false }
        }
    }

    /// Waits as OpenSSL asked, or throws its failure.
    private func waitForTLS(
        _ result: Int, doing: String, deadline: HTTPDeadline
    ) throws(HTTPClientError) {
        switch Int32(result) {
        case HW_TLS_WANT_READ:
            try Self.wait(socket, for: POLLIN, until: deadline, peer: peer, doing: doing)
        case HW_TLS_WANT_WRITE:
            try Self.wait(socket, for: POLLOUT, until: deadline, peer: peer, doing: doing)
        case HW_TLS_CLOSED:
            throw HTTPClientError(.tls, "\(peer): the peer closed the TLS session \(doing)")
        default:
            // The session exists: every TLS call comes after startTLS made it.
            let reason = tls.map { String(cString: hw_tls_message($0)) } ?? "TLS failure"
            let kind: HTTPClientError.Kind = result == HW_TLS_UNTRUSTED ? .certificate : .tls
            throw HTTPClientError(kind, "\(peer): \(reason)")
        }
    }

    /// Polls `socket` for `events` until the deadline; errors and hang-ups count as ready,
    /// so that the next call reports them.
    private static func wait(
        _ socket: Int32, for events: Int32, until deadline: HTTPDeadline, peer: String,
        doing: String
    ) throws(HTTPClientError) {
        var entry = pollfd(fd: socket, events: Int16(events), revents: 0)
        while true {
            let ready = poll(&entry, 1, deadline.pollTimeout)
            if ready > 0 { return }
            if ready == 0 {
                throw HTTPClientError(.timeout, "\(peer): timed out \(doing)")
            }
            if errno != EINTR {
                throw HTTPClientError(.receive, "\(peer): poll: \(errnoText())")
            }
        }
    }
}

/// The text of the current errno.
private func errnoText() -> String {
    String(cString: strerror(errno))
}

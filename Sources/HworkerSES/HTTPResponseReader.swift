// Reads one HTTP/1.x answer from a connection: the status line and headers
// (skipping any 1xx interim answer), then the body framed by Content-Length,
// by chunked transfer coding, or by the end of the connection, and decides
// whether the connection may carry another request.
//
// Limits keep a broken or hostile peer from exhausting memory: 64 KiB for
// all header lines of an answer together (interim 1xx answers and chunked
// trailers included), `maximumBodyBytes` of body. The connection's deadline
// bounds the time, however the peer trickles its bytes. Anything that is not well-formed
// HTTP/1.x is a `malformedResponse` error and the connection is dropped.

/// The parts of one answer, and whether its connection stays usable.
struct HTTPReadResponse {
    var response: HTTPResponse
    var keepAlive: Bool
}

/// Reads answers from one connection, keeping bytes that arrived early.
struct HTTPResponseReader {
    private static let maximumHeadBytes = 64 << 10

    private let connection: HTTPConnection
    private let deadline: HTTPDeadline
    private let maximumBodyBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var headBytesLeft = Self.maximumHeadBytes

    /// Whether any byte of an answer has arrived: until then a broken kept connection
    /// means the request was never seen, and it may be sent again on a new one.
    private(set) var receivedAnything = false

    init(connection: HTTPConnection, deadline: HTTPDeadline, maximumBodyBytes: Int) {
        self.connection = connection
        self.deadline = deadline
        self.maximumBodyBytes = maximumBodyBytes
    }

    /// Reads the answer to a request made with `method`.
    ///
    /// - Throws: `HTTPClientError` of kind `receive`, `tls`, `timeout`,
    ///   `malformedResponse` or `responseTooLarge`.
    mutating func read(method: String) throws(HTTPClientError) -> HTTPReadResponse {
        var head = try readHead()
        while (100..<200).contains(head.status) {
            head = try readHead()
        }
        let noBody = method == "HEAD" || head.status == 204 || head.status == 304
        var keepAlive = head.keepAlive
        let body: [UInt8]
        if noBody {
            body = []
        } else if head.chunked {
            body = try readChunkedBody()
        } else if let length = head.contentLength {
            guard length <= maximumBodyBytes else { throw tooLarge() }
            body = try readExactly(length)
        } else {
            body = try readToEnd()
            keepAlive = false
        }
        // Bytes nobody asked for mean the framing is off: do not trust the connection.
        if start < buffer.count { keepAlive = false }
        let response = HTTPResponse(status: head.status, headers: head.headers, body: body)
        return HTTPReadResponse(response: response, keepAlive: keepAlive)
    }

    // MARK: head

    private struct Head {
        var status: Int
        var headers: [HTTPHeader]
        var keepAlive: Bool
        var chunked: Bool
        var contentLength: Int?
    }

    private mutating func readHead() throws(HTTPClientError) -> Head {
        var lines: [[UInt8]] = []
        while true {
            let line = try readHeadLine()
            if line.isEmpty {
                if lines.isEmpty { continue }  // stray CRLF before a status line is tolerated
                break
            }
            lines.append(line)
        }
        return try parseHead(lines)
    }

    /// A line of a head or of trailers, counted against the answer's header budget and
    /// copied out of the buffer (a slice would pin the buffer's storage).
    private mutating func readHeadLine() throws(HTTPClientError) -> [UInt8] {
        let line = try readLine(limit: headBytesLeft)
        headBytesLeft -= line.count + 2
        guard headBytesLeft >= 0 else {
            throw malformed("headers over \(Self.maximumHeadBytes) bytes")
        }
        return Array(line)
    }

    private func parseHead(_ lines: [[UInt8]]) throws(HTTPClientError) -> Head {
        let statusLine = String(decoding: lines[0], as: UTF8.self)
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "HTTP/1.1" || parts[0] == "HTTP/1.0",
            parts[1].count == 3, let status = Int(parts[1]), status >= 100
        else { throw malformed("not an HTTP/1.x status line: \(statusLine.prefix(80))") }

        var head = Head(
            status: status, headers: [], keepAlive: parts[0] == "HTTP/1.1", chunked: false,
            contentLength: nil)
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex
            else { throw malformed("a header line without a name") }
            let name = String(decoding: line[..<colon], as: UTF8.self)
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingSpaces()
            head.headers.append(HTTPHeader(name, value))
            try apply(name.lowercased(), value, to: &head)
        }
        return head
    }

    /// Takes the headers that decide framing and keep-alive.
    private func apply(_ name: String, _ value: String, to head: inout Head)
        throws(HTTPClientError)
    {
        switch name {
        case "content-length":
            guard let length = Int(value), length >= 0,
                head.contentLength == nil || head.contentLength == length
            else { throw malformed("invalid Content-Length \(value)") }
            head.contentLength = length
        case "transfer-encoding":
            let codings = value.lowercased().split(separator: ",").map { $0.trimmingSpaces() }
            guard codings.last == "chunked" else {
                throw malformed("unsupported Transfer-Encoding \(value)")
            }
            head.chunked = true
        case "connection":
            let options = value.lowercased().split(separator: ",").map { $0.trimmingSpaces() }
            if options.contains("close") { head.keepAlive = false }
            if options.contains("keep-alive") { head.keepAlive = true }
        default:
            break
        }
    }

    // MARK: bodies

    private mutating func readChunkedBody() throws(HTTPClientError) -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let line = try readLine(limit: 1024)
            let sizeText = line.prefix { $0 != UInt8(ascii: ";") }
            let digits = String(decoding: sizeText, as: UTF8.self).trimmingSpaces()
            guard !digits.isEmpty, digits.count <= 15, digits.allSatisfy(\.isHexDigit),
                let size = Int(digits, radix: 16)
            else {
                throw malformed("invalid chunk size line")
            }
            if size == 0 { break }
            guard body.count + size <= maximumBodyBytes else { throw tooLarge() }
            body += try readExactly(size)
            guard try readLine(limit: 2).isEmpty else { throw malformed("no CRLF after a chunk") }
        }
        // Trailers are read and dropped.
        while try !readHeadLine().isEmpty {}
        return body
    }

    private mutating func readToEnd() throws(HTTPClientError) -> [UInt8] {
        while try fill() {
            guard buffer.count - start <= maximumBodyBytes else { throw tooLarge() }
        }
        defer { start = buffer.count }
        return Array(buffer[start...])
    }

    private mutating func readExactly(_ count: Int) throws(HTTPClientError) -> [UInt8] {
        while buffer.count - start < count {
            guard try fill() else {
                throw HTTPClientError(
                    .receive, "\(connection.peer): the connection closed in the middle of the body")
            }
        }
        defer { start += count }
        return Array(buffer[start..<(start + count)])
    }

    // MARK: bytes

    /// The next line without its CRLF (a bare LF is accepted).
    private mutating func readLine(limit: Int) throws(HTTPClientError) -> ArraySlice<UInt8> {
        var scanned = 0  // bytes after `start` known to hold no LF
        while true {
            let searched = start + scanned
            if let newline = buffer[searched...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = buffer[start..<end]
                start = newline + 1
                return line
            }
            guard buffer.count - start <= limit else {
                throw malformed("a line over \(limit) bytes")
            }
            scanned = buffer.count - start
            guard try fill() else {
                throw HTTPClientError(
                    .receive,
                    receivedAnything
                        ? "\(connection.peer): the connection closed in the middle of the answer"
                        : "\(connection.peer): the connection closed without an answer")
            }
        }
    }

    /// Reads more bytes into the buffer; false when the peer closed the connection.
    private mutating func fill() throws(HTTPClientError) -> Bool {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        let chunk = 16 << 10
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunk))
        let connection = connection
        let deadline = deadline
        let result = buffer.withUnsafeMutableBytes { bytes in
            Result { () throws(HTTPClientError) in
                try connection.read(
                    into: UnsafeMutableRawBufferPointer(rebasing: bytes[old...]), deadline: deadline
                )
            }
        }
        let count = (try? result.get()) ?? 0
        buffer.removeLast(chunk - count)
        _ = try result.get()
        if count > 0 { receivedAnything = true }
        return count > 0
    }

    private func malformed(_ what: String) -> HTTPClientError {
        HTTPClientError(.malformedResponse, "\(connection.peer): \(what)")
    }

    private func tooLarge() -> HTTPClientError {
        HTTPClientError(
            .responseTooLarge, "\(connection.peer): the answer is over \(maximumBodyBytes) bytes")
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    fileprivate func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }),
            let last = lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[first...last])
    }
}

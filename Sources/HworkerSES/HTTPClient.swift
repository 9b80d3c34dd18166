// A small blocking HTTP/1.1 client on one libcurl easy handle.
//
// Each worker process owns one SES client and so one HTTPClient; it is used
// from one thread at a time and is deliberately not Sendable. The easy handle
// lives as long as the client, so libcurl keeps the connection to SES open
// between requests (keep-alive) and reuses it; every request starts with
// curl_easy_reset, which clears options but keeps live connections, so no
// option leaks from one request into the next.
//
// What every request gets:
// - connect and total timeouts from the options;
// - no proxy unless one is configured: CURLOPT_PROXY "" and CURLOPT_NOPROXY
//   "*" stop libcurl from reading http_proxy and friends from the environment;
// - an explicit Content-Length and no `Expect: 100-continue`, so the body goes
//   in one piece, never chunked, exactly as it was signed;
// - only http and https, no redirects followed, TLS verification left on;
// - a cap on the response size, so a broken peer cannot exhaust memory.

import CCurl
import CSupport

/// A blocking HTTP client that keeps its connection alive between requests.
public final class HTTPClient {
    /// Limits and routing for every request.
    public struct Options: Sendable {
        /// How long to wait for the TCP (and TLS) connection.
        public var connectTimeout: Duration
        /// How long the whole request may take, connection included.
        public var requestTimeout: Duration
        /// A proxy URL such as `http://proxy:3128`; `nil` means none, whatever the
        /// environment says.
        public var proxy: String?
        /// The User-Agent header.
        public var userAgent: String
        /// Larger answers are cut off and reported as an error.
        public var maximumResponseBytes: Int

        /// Creates options.
        ///
        /// - Parameters:
        ///   - connectTimeout: The connect timeout.
        ///   - requestTimeout: The total timeout per request.
        ///   - proxy: A proxy URL, or `nil` for a direct connection.
        ///   - userAgent: The User-Agent header.
        ///   - maximumResponseBytes: The largest answer accepted.
        public init(
            connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(30),
            proxy: String? = nil, userAgent: String = "hworker-ses",
            maximumResponseBytes: Int = 16 << 20
        ) {
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.proxy = proxy
            self.userAgent = userAgent
            self.maximumResponseBytes = maximumResponseBytes
        }
    }

    /// The options every request uses.
    public let options: Options

    /// Whether the last request went over a connection kept from an earlier one.
    public private(set) var lastRequestReusedConnection = false

    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>

    /// Creates a client with its own libcurl handle.
    ///
    /// - Parameter options: Limits and routing for every request.
    /// - Throws: `HTTPClientError` if libcurl cannot initialize or create a handle.
    public init(options: Options = Options()) throws(HTTPClientError) {
        if let failure = hw_curl_load() {
            throw HTTPClientError(call: "load libcurl", code: -1, message: String(cString: failure))
        }
        guard let handle = hw_curl_easy_init() else {
            throw HTTPClientError(call: "curl_easy_init", code: -1, message: "no handle")
        }
        self.handle = handle
        self.options = options
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        hw_curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Sends `request` and waits for the whole answer.
    ///
    /// - Parameter request: The request; its headers are sent as given.
    /// - Returns: The final response, whatever its status.
    /// - Throws: `HTTPClientError` when no complete answer arrived: connection refused or
    ///   reset, timeout, TLS failure, or an answer over the size limit.
    public func perform(_ request: HTTPRequest) throws(HTTPClientError) -> HTTPResponse {
        hw_curl_easy_reset(handle)
        errorBuffer[0] = 0
        let sink = ResponseSink(limit: options.maximumResponseBytes)
        var headerList = HeaderList(Self.wireHeaders(for: request))
        defer { headerList.free() }

        // The sink and the body must outlive curl_easy_perform, which calls back into them.
        var failure: (call: String, code: CURLcode)?
        withExtendedLifetime(sink) {
            let context = Unmanaged.passUnretained(sink).toOpaque()
            request.body.withUnsafeBytes { body in
                var setter = OptionSetter(handle: handle)
                configure(&setter, request, headers: headerList.pointer, context: context)
                setMethod(&setter, request.method, body: body)
                if let failed = setter.failure {
                    failure = ("curl_easy_setopt(\(failed.option.rawValue))", failed.code)
                    return
                }
                let code = hw_curl_easy_perform(handle)
                if code != CURLE_OK {
                    failure = (
                        "curl_easy_perform", sink.overflowed ? CURLE_FILESIZE_EXCEEDED : code
                    )
                }
            }
        }
        if let failure { throw error(failure.call, failure.code) }

        var status = 0
        var connects = 0
        _ = hw_curl_get_response_code(handle, &status)
        _ = hw_curl_get_long(handle, CURLINFO_NUM_CONNECTS, &connects)
        lastRequestReusedConnection = connects == 0
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }

    /// The request's headers plus Content-Length and an empty `Expect:`, which stops
    /// libcurl from sending `Expect: 100-continue`.
    private static func wireHeaders(for request: HTTPRequest) -> [String] {
        var lines = request.headers.map { "\($0.name): \($0.value)" }
        if request.method != "GET" && request.method != "HEAD" {
            lines.append("Content-Length: \(request.body.count)")
        }
        lines.append("Expect:")
        lines.append("Transfer-Encoding:")
        return lines
    }

    /// Sets every option for one request except the method.
    private func configure(
        _ setter: inout OptionSetter, _ request: HTTPRequest,
        headers: UnsafeMutablePointer<curl_slist>?, context: UnsafeMutableRawPointer
    ) {
        setter.set(CURLOPT_ERRORBUFFER, pointer: errorBuffer)
        setter.set(CURLOPT_URL, string: request.url)
        setter.set(CURLOPT_PROTOCOLS_STR, string: "http,https")
        setter.set(CURLOPT_NOSIGNAL, 1)
        setter.set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1)
        setter.set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(options.connectTimeout))
        setter.set(CURLOPT_TIMEOUT_MS, Self.milliseconds(options.requestTimeout))
        setter.set(CURLOPT_TCP_KEEPALIVE, 1)
        setter.set(CURLOPT_PROXY, string: options.proxy ?? "")
        if options.proxy == nil {
            setter.set(CURLOPT_NOPROXY, string: "*")
        }
        setter.set(CURLOPT_USERAGENT, string: options.userAgent)
        setter.set(CURLOPT_HTTPHEADER, list: headers)
        setter.run(CURLOPT_WRITEFUNCTION) { hw_curl_set_write_function($0, receiveBody) }
        setter.set(CURLOPT_WRITEDATA, pointer: context)
        setter.run(CURLOPT_HEADERFUNCTION) { hw_curl_set_header_function($0, receiveHeader) }
        setter.set(CURLOPT_HEADERDATA, pointer: context)
    }

    /// Chooses the method and hands libcurl the body without copying it.
    private func setMethod(
        _ setter: inout OptionSetter, _ method: String, body: UnsafeRawBufferPointer
    ) {
        switch method {
        case "GET":
            setter.set(CURLOPT_HTTPGET, 1)
        case "HEAD":
            setter.set(CURLOPT_NOBODY, 1)
        default:
            // A zero-length body still needs a valid pointer, or libcurl reads from a callback.
            let pointer =
                body.baseAddress.map(UnsafeMutableRawPointer.init(mutating:)) ?? emptyBodyAddress
            setter.set(CURLOPT_POST, 1)
            setter.set(CURLOPT_POSTFIELDSIZE_LARGE, size: curl_off_t(body.count))
            setter.set(CURLOPT_POSTFIELDS, pointer: pointer)
            if method != "POST" {
                setter.set(CURLOPT_CUSTOMREQUEST, string: method)
            }
        }
    }

    private func error(_ call: String, _ code: CURLcode) -> HTTPClientError {
        let detail = String(cString: errorBuffer)
        let message = detail.isEmpty ? String(cString: hw_curl_easy_strerror(code)) : detail
        return HTTPClientError(call: call, code: Int32(code.rawValue), message: message)
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}

/// A readable byte that stands in for the body of an empty request. Unsafe is sound here:
/// it is allocated once and never written, and libcurl only reads it.
private nonisolated(unsafe) let emptyBodyAddress = UnsafeMutableRawPointer.allocate(
    byteCount: 1, alignment: 1)

/// Sets options on an easy handle, remembering the first one that failed; later calls
/// after a failure do nothing.
private struct OptionSetter {
    let handle: UnsafeMutableRawPointer
    private(set) var failure: (option: CURLoption, code: CURLcode)?

    init(handle: UnsafeMutableRawPointer) {
        self.handle = handle
    }

    mutating func set(_ option: CURLoption, _ value: Int) {
        record(option) { hw_curl_set_long($0, option, value) }
    }

    mutating func set(_ option: CURLoption, string: String) {
        record(option) { hw_curl_set_string($0, option, string) }
    }

    mutating func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer) {
        record(option) { hw_curl_set_pointer($0, option, pointer) }
    }

    mutating func set(_ option: CURLoption, list: UnsafeMutablePointer<curl_slist>?) {
        record(option) { hw_curl_set_slist($0, option, list) }
    }

    mutating func set(_ option: CURLoption, size: curl_off_t) {
        record(option) { hw_curl_set_size($0, option, size) }
    }

    /// Runs a setter of its own for `option` (the callbacks have typed wrappers).
    mutating func run(_ option: CURLoption, _ call: (UnsafeMutableRawPointer) -> CURLcode) {
        record(option, call)
    }

    private mutating func record(
        _ option: CURLoption, _ call: (UnsafeMutableRawPointer) -> CURLcode
    ) {
        guard failure == nil else { return }
        let code = call(handle)
        if code != CURLE_OK { failure = (option, code) }
    }
}

/// A curl_slist owned by one request.
private struct HeaderList {
    private(set) var pointer: UnsafeMutablePointer<curl_slist>?

    init(_ lines: [String]) {
        for line in lines {
            pointer = hw_curl_slist_append(pointer, line)
        }
    }

    mutating func free() {
        hw_curl_slist_free_all(pointer)
        pointer = nil
    }
}

/// Collects one response from libcurl's callbacks.
private final class ResponseSink {
    let limit: Int
    var headers: [HTTPHeader] = []
    var body: [UInt8] = []
    var overflowed = false

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes one header line; a status line starts a new response (after a 100 Continue).
    func header(_ line: String) {
        if line.hasPrefix("HTTP/") {
            headers = []
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = String(line[..<colon]).trimmingCharacters(in: " \t")
        let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: " \t\r\n")
        headers.append(HTTPHeader(name, value))
    }

    /// Takes body bytes; false once the answer grows past the limit.
    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= limit else {
            overflowed = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }
}

extension String {
    /// The string without leading and trailing characters from `set`.
    fileprivate func trimmingCharacters(in set: String) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !set.unicodeScalars.contains($0) }),
            let last = scalars.lastIndex(where: { !set.unicodeScalars.contains($0) })
        else { return "" }
        return String(scalars[first...last])
    }
}

/// CURLOPT_WRITEFUNCTION: body bytes; returning less than given aborts the transfer.
private let receiveBody: hw_curl_write_fn = { data, size, count, context in
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    return sink.append(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

/// CURLOPT_HEADERFUNCTION: one header line at a time, status lines included.
private let receiveHeader: hw_curl_write_fn = { data, size, count, context in
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    let bytes = UnsafeRawBufferPointer(start: data, count: length)
    sink.header(String(decoding: bytes, as: UTF8.self))
    return length
}

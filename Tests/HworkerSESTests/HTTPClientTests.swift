import Foundation
import HworkerSES
import Testing

@Suite struct HTTPClientTests {
    @Test func postSendsLengthWithoutExpectOrChunking() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let client = try HTTPClient()
        let body = [UInt8](repeating: 0x61, count: 200_000)  // many TCP segments
        let response = try client.perform(
            HTTPRequest(
                method: "POST", url: stub.url + "/upload?x=1",
                headers: [
                    HTTPHeader("Content-Type", "text/plain"),
                    HTTPHeader("Host", "signed.example:99"),
                ],
                body: body))
        #expect(response.status == 200)
        #expect(response.headers.value(for: "content-type") == "application/json")
        #expect(
            String(decoding: response.body, as: UTF8.self) == "{\"MessageId\": \"stub-message-id\"}"
        )

        let request = try #require(try stub.requests().first)
        #expect(request.method == "POST")
        #expect(request.path == "/upload?x=1")
        #expect(request.header("Content-Length") == ["200000"])
        #expect(request.header("Expect") == [])
        #expect(request.header("Transfer-Encoding") == [])
        #expect(request.header("Host") == ["signed.example:99"])
        #expect(request.bodyBytes == body)
    }

    @Test func emptyPostStillSendsContentLength() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        _ = try HTTPClient().perform(HTTPRequest(method: "POST", url: stub.url + "/"))
        let request = try #require(try stub.requests().first)
        #expect(request.header("Content-Length") == ["0"])
        #expect(request.bodyBytes == [])
    }

    @Test func connectionIsKeptAliveBetweenRequests() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let client = try HTTPClient()
        for method in ["GET", "POST", "GET", "PUT"] {
            let response = try client.perform(
                HTTPRequest(method: method, url: stub.url + "/k", body: [1]))
            #expect(response.status == 200)
        }
        #expect(client.lastRequestReusedConnection)
        let requests = try stub.requests()
        #expect(requests.map(\.method) == ["GET", "POST", "GET", "PUT"])
        #expect(Set(requests.map(\.client_port)).count == 1, "all requests on one connection")
    }

    @Test func errorStatusesAreResponsesNotErrors() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        try stub.respond([(503, [("x-amzn-ErrorType", "ServiceUnavailable")], "busy", 0)])
        let response = try HTTPClient().perform(HTTPRequest(method: "GET", url: stub.url + "/"))
        #expect(response.status == 503)
        #expect(!response.isSuccess)
        #expect(response.headers.value(for: "X-Amzn-ErrorType") == "ServiceUnavailable")
    }

    @Test func requestTimeoutIsATransportError() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        try stub.respond([(200, [], "late", 3000)])
        let client = try HTTPClient(options: .init(requestTimeout: .milliseconds(300)))
        let start = Date()
        let error = #expect(throws: HTTPClientError.self) {
            try client.perform(HTTPRequest(method: "GET", url: stub.url + "/"))
        }
        #expect(error?.isTimeout == true)
        #expect(error?.message.contains("timed out receiving") == true)
        #expect(Date().timeIntervalSince(start) < 2.5)
    }

    @Test func refusedConnectionIsATransportError() throws {
        let port = try #require(ChildProcess.freePort())
        let error = #expect(throws: HTTPClientError.self) {
            try HTTPClient().perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)/"))
        }
        #expect(error?.kind == .connect)
        #expect(error?.description == "connect: 127.0.0.1:\(port): Connection refused")
    }

    @Test func oversizedAnswerIsRefused() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        try stub.respond([(200, [], String(repeating: "x", count: 10_000), 0)])
        let client = try HTTPClient(options: .init(maximumResponseBytes: 1000))
        let error = #expect(throws: HTTPClientError.self) {
            try client.perform(HTTPRequest(method: "GET", url: stub.url + "/"))
        }
        #expect(error?.kind == .responseTooLarge)
    }

    /// The stub stands in for the proxy: the request for a name that never resolves reaches
    /// it in proxy form, so nothing leaves 127.0.0.1.
    @Test func configuredProxyIsUsed() throws {
        let proxy = try StubServer()
        defer { proxy.stop() }
        let client = try HTTPClient(options: .init(proxy: proxy.url))
        let response = try client.perform(
            HTTPRequest(method: "GET", url: "http://ses.example.invalid/v2/email/account"))
        #expect(response.status == 200)
        let request = try #require(try proxy.requests().first)
        #expect(request.path == "http://ses.example.invalid/v2/email/account")
    }

    @Test func onlyHTTPAndHTTPSAreAllowed() throws {
        let error = #expect(throws: HTTPClientError.self) {
            try HTTPClient().perform(HTTPRequest(method: "GET", url: "file:///etc/passwd"))
        }
        #expect(error?.kind == .invalidRequest)
    }

    @Test func unresolvableNameIsATransportError() throws {
        let error = #expect(throws: HTTPClientError.self) {
            try HTTPClient().perform(HTTPRequest(method: "GET", url: "http://name.invalid/"))
        }
        #expect(error?.kind == .resolve)
        #expect(error?.message.hasPrefix("name.invalid: ") == true)
    }

    @Test func headerWithALineBreakIsRefusedBeforeConnecting() throws {
        let port = try #require(ChildProcess.freePort())
        let error = #expect(throws: HTTPClientError.self) {
            try HTTPClient().perform(
                HTTPRequest(
                    method: "GET", url: "http://127.0.0.1:\(port)/",
                    headers: [HTTPHeader("X-Test", "a\r\nInjected: yes")]))
        }
        #expect(error?.kind == .invalidRequest)
    }

    /// CONNECT goes to the proxy for an https URL; the stub refuses it, which the client
    /// reports as the proxy's refusal (nothing leaves 127.0.0.1).
    @Test func httpsThroughAProxyAsksForATunnel() throws {
        let proxy = try StubServer()
        defer { proxy.stop() }
        try proxy.respond([(403, [], "no", 0)])
        let client = try HTTPClient(options: .init(proxy: proxy.url))
        let error = #expect(throws: HTTPClientError.self) {
            try client.perform(HTTPRequest(method: "GET", url: "https://ses.example.invalid/x"))
        }
        #expect(error?.kind == .proxy)
        let request = try #require(try proxy.requests().first)
        #expect(request.method == "CONNECT")
        #expect(request.path == "ses.example.invalid:443")
    }
}

@Suite struct HTTPFramingTests {
    /// The error of a GET that the stub answers with `raw`, or nil (an issue) if none.
    private func failure(answering raw: String) throws -> HTTPClientError? {
        let stub = try StubServer()
        defer { stub.stop() }
        try stub.respondRaw([raw])
        return #expect(throws: HTTPClientError.self) {
            try HTTPClient().perform(HTTPRequest(method: "GET", url: stub.url + "/"))
        }
    }

    @Test func chunkedAnswerIsReassembled() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        try stub.respondRaw([
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n"
        ])
        let response = try HTTPClient().perform(HTTPRequest(method: "GET", url: stub.url + "/"))
        #expect(String(decoding: response.body, as: UTF8.self) == "hello, world")
    }

    @Test func answerWithoutLengthEndsWithTheConnection() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        try stub.respondRaw(["HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close"])
        let client = try HTTPClient()
        let first = try client.perform(HTTPRequest(method: "GET", url: stub.url + "/"))
        #expect(String(decoding: first.body, as: UTF8.self) == "until close")
        #expect(first.headers.value(for: "content-type") == "text/plain")

        // The connection is gone, so the next request opens a new one and still succeeds.
        try stub.respond([(200, [], "again", 0)])
        let second = try client.perform(HTTPRequest(method: "GET", url: stub.url + "/"))
        #expect(String(decoding: second.body, as: UTF8.self) == "again")
        #expect(!client.lastRequestReusedConnection)
    }

    @Test func interimAnswersAreSkipped() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        try stub.respondRaw([
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
        ])
        let response = try HTTPClient().perform(HTTPRequest(method: "POST", url: stub.url + "/"))
        #expect(response.status == 201)
        #expect(response.body == Array("ok".utf8))
    }

    @Test func answerThatIsNotHTTPIsMalformed() throws {
        let error = try failure(answering: "SSH-2.0-OpenSSH\r\n\r\n")
        #expect(error?.kind == .malformedResponse)
    }

    @Test(arguments: ["-1", "-FFFFFFFFFFFFFF", "+5", "0x5", " "])
    func chunkSizeThatIsNotHexIsMalformed(size: String) throws {
        let error = try failure(
            answering: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "\(size)\r\nhello\r\n0\r\n\r\n")
        #expect(error?.kind == .malformedResponse)
    }

    /// Header lines, interim answers and trailers share one 64 KiB budget per answer.
    @Test(arguments: [
        "HTTP/1.1 200 OK\r\n"
            + String(
                repeating: "X-Filler: " + String(repeating: "a", count: 1000) + "\r\n", count: 70)
            + "Content-Length: 0\r\n\r\n",
        String(repeating: "HTTP/1.1 100 Continue\r\n\r\n", count: 3000),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
            + String(
                repeating: "X-Trailer: " + String(repeating: "t", count: 1000) + "\r\n", count: 70),
    ])
    func floodOfHeaderLinesIsMalformed(answer: String) throws {
        let error = try failure(answering: answer)
        #expect(error?.kind == .malformedResponse)
        #expect(error?.message.contains("headers over 65536 bytes") == true)
    }

    @Test func bodyCutShortIsAReceiveError() throws {
        let error = try failure(answering: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        #expect(error?.kind == .receive)
        #expect(error?.message.contains("middle of the body") == true)
    }

    /// The stub reads the second request and closes the kept connection without a word,
    /// as a server closing an idle connection does: the request goes again, once.
    @Test func requestOnAConnectionClosedBeforeAnAnswerIsSentAgainOnce() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let list: [[String: Any]] = [
            ["status": 200, "body": "one"], ["drop": true], ["status": 200, "body": "two"],
        ]
        try stub.respondJSON(list)
        let client = try HTTPClient()
        _ = try client.perform(HTTPRequest(method: "POST", url: stub.url + "/"))
        #expect(!client.lastRequestWasResent)
        let second = try client.perform(HTTPRequest(method: "POST", url: stub.url + "/"))
        #expect(second.body == Array("two".utf8))
        #expect(client.lastRequestWasResent)
        #expect(!client.lastRequestReusedConnection)
        let ports = try stub.requests().map(\.client_port)
        #expect(ports.count == 3 && ports[0] == ports[1] && ports[1] != ports[2])
    }

    @Test func closedKeptConnectionIsReplacedWithoutAnError() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        try stub.respondRaw([
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo",
        ])
        let client = try HTTPClient()
        let first = try client.perform(HTTPRequest(method: "GET", url: stub.url + "/"))
        // The stub closes after each raw answer although it said nothing about it.
        Thread.sleep(forTimeInterval: 0.2)
        let second = try client.perform(HTTPRequest(method: "GET", url: stub.url + "/"))
        #expect(first.body == Array("one".utf8) && second.body == Array("two".utf8))
        let ports = try stub.requests().map(\.client_port)
        #expect(ports.count == 2 && ports[0] != ports[1])
    }
}

import Foundation
import HworkerSES
import Testing

@Suite struct HTTPClientTests {
    @Test func postSendsLengthWithoutExpectOrChunking() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let client = try HTTPClient()
        let body = [UInt8](repeating: 0x61, count: 200_000)  // large enough for curl to Expect
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
        #expect(error?.call == "curl_easy_perform")
        #expect(Date().timeIntervalSince(start) < 2.5)
    }

    @Test func refusedConnectionIsATransportError() throws {
        let port = try #require(ChildProcess.freePort())
        let error = #expect(throws: HTTPClientError.self) {
            try HTTPClient().perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)/"))
        }
        #expect(error?.code == 7)  // CURLE_COULDNT_CONNECT
    }

    @Test func oversizedAnswerIsRefused() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        try stub.respond([(200, [], String(repeating: "x", count: 10_000), 0)])
        let client = try HTTPClient(options: .init(maximumResponseBytes: 1000))
        let error = #expect(throws: HTTPClientError.self) {
            try client.perform(HTTPRequest(method: "GET", url: stub.url + "/"))
        }
        #expect(error?.code == 63)  // CURLE_FILESIZE_EXCEEDED
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
        #expect(error?.code == 1)  // CURLE_UNSUPPORTED_PROTOCOL
    }
}

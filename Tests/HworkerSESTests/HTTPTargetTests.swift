import Testing

@testable import HworkerSES

@Suite struct HTTPTargetTests {
    @Test func schemeHostPortAndPathAreSplit() throws {
        let target = try HTTPTarget(parsing: "https://email.us-east-1.amazonaws.com/v2/email?x=1#f")
        #expect(target.secure && target.host == "email.us-east-1.amazonaws.com")
        #expect(target.port == 443 && target.path == "/v2/email?x=1")
        #expect(target.authority == "email.us-east-1.amazonaws.com")
        #expect(target.origin == "https://email.us-east-1.amazonaws.com")
    }

    @Test func explicitPortsAndAddressLiteralsAreKept() throws {
        let plain = try HTTPTarget(parsing: "http://127.0.0.1:5400")
        #expect(!plain.secure && plain.host == "127.0.0.1" && plain.port == 5400)
        #expect(plain.path == "/" && plain.authority == "127.0.0.1:5400")

        let v6 = try HTTPTarget(parsing: "http://[::1]:8080/p")
        #expect(v6.host == "::1" && v6.port == 8080 && v6.authority == "[::1]:8080")
        let defaultPort = try HTTPTarget(parsing: "https://[2001:db8::1]/")
        #expect(defaultPort.port == 443 && defaultPort.authority == "[2001:db8::1]")
    }

    @Test(arguments: [
        "ftp://example.com/", "example.com", "http://", "http://user:pw@example.com/",
        "http://example.com:0/", "http://example.com:99999/", "http://example.com:x/",
        "http://[::1/", "http://example.com/a b",
    ])
    func invalidURLsAreRefused(url: String) {
        let error = #expect(throws: HTTPClientError.self) { try HTTPTarget(parsing: url) }
        #expect(error?.kind == .invalidRequest)
        #expect(error?.message.hasPrefix(url) == true)
    }
}

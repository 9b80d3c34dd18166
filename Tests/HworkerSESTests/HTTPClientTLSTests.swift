import Foundation
import HworkerSES
import Testing

/// https against the stub served with a certificate from a private authority, on
/// 127.0.0.1: verification of the chain and of the name, and keep-alive over TLS.
@Suite struct HTTPClientTLSTests {
    /// One authority and server certificate for every test here, named `localhost` only.
    static let certificates = Result { try TestCertificates(names: "DNS:localhost") }

    @Test func trustedCertificateCarriesRequestsOnOneConnection() throws {
        let certificates = try Self.certificates.get()
        let stub = try StubServer(tls: certificates, host: "localhost")
        defer { stub.stop() }
        let client = try HTTPClient(options: .init(trustedCertificates: certificates.authority))
        let body = Array("Action=SendEmail".utf8)
        for _ in 0..<3 {
            let response = try client.perform(
                HTTPRequest(method: "POST", url: stub.url + "/v2/email/outbound-emails", body: body)
            )
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self).contains("stub-message-id"))
        }
        #expect(client.lastRequestReusedConnection)
        let requests = try stub.requests()
        #expect(requests.count == 3)
        #expect(requests.allSatisfy { $0.bodyBytes == body })
        #expect(Set(requests.map(\.client_port)).count == 1, "all requests on one connection")
        #expect(requests[0].header("Host") == [String(stub.url.dropFirst("https://".count))])
    }

    @Test func unknownAuthorityIsRefused() throws {
        let certificates = try Self.certificates.get()
        let stub = try StubServer(tls: certificates, host: "localhost")
        defer { stub.stop() }
        let error = #expect(throws: HTTPClientError.self) {
            try HTTPClient().perform(HTTPRequest(method: "GET", url: stub.url + "/"))
        }
        #expect(error?.kind == .certificate)
        #expect(error?.message.contains("certificate verify failed") == true)
        #expect(try stub.requests().isEmpty, "nothing was sent to an unverified peer")
    }

    @Test func certificateForAnotherNameIsRefused() throws {
        let certificates = try Self.certificates.get()
        let stub = try StubServer(tls: certificates, host: "127.0.0.1")
        defer { stub.stop() }
        let client = try HTTPClient(options: .init(trustedCertificates: certificates.authority))
        let error = #expect(throws: HTTPClientError.self) {
            try client.perform(HTTPRequest(method: "GET", url: stub.url + "/"))
        }
        #expect(error?.kind == .certificate)
        #expect(error?.message.contains("mismatch") == true)
    }

    @Test func untrustedSESIsClassifiedForAPauseNotARetry() throws {
        let certificates = try Self.certificates.get()
        let stub = try StubServer(tls: certificates, host: "localhost")
        defer { stub.stop() }
        let client = try SESClient(
            configuration: .init(
                region: "us-east-1",
                credentials: AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret"),
                endpoint: stub.url))
        let error = #expect(throws: SESError.self) { try client.getAccount() }
        #expect(error?.kind == .transport(.certificate))
        #expect(error?.classification == .untrusted)
        #expect(error?.description.contains("transport error certificate: localhost:") == true)
    }

    @Test func plainHTTPPeerFailsTheHandshake() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let url = stub.url.replacingOccurrences(of: "http://", with: "https://")
        let error = #expect(throws: HTTPClientError.self) {
            try HTTPClient().perform(HTTPRequest(method: "GET", url: url + "/"))
        }
        #expect(error?.kind == .tls)
    }

    @Test func unreadableTrustFileIsNamed() throws {
        let stub = try StubServer()
        defer { stub.stop() }
        let url = stub.url.replacingOccurrences(of: "http://", with: "https://")
        let client = try HTTPClient(options: .init(trustedCertificates: "/nonexistent/ca.pem"))
        let error = #expect(throws: HTTPClientError.self) {
            try client.perform(HTTPRequest(method: "GET", url: url + "/"))
        }
        #expect(error?.kind == .library)
        #expect(error?.message.contains("/nonexistent/ca.pem") == true)
    }
}

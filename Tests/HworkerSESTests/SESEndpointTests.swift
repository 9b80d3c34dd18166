import HworkerSES
import Testing

@Suite struct SESEndpointTests {
    @Test func standardEndpointIsTheRegionalHost() {
        let endpoint = SESEndpoint.standard(region: "eu-west-1")
        #expect(endpoint.description == "https://email.eu-west-1.amazonaws.com")
        #expect(endpoint.hostHeader == "email.eu-west-1.amazonaws.com")
    }

    @Test(arguments: [
        ("http://127.0.0.1:5000", "127.0.0.1:5000", ""),
        ("HTTP://LocalHost:80/", "localhost", ""),
        ("https://ses.example.com:443", "ses.example.com", ""),
        ("https://ses.example.com:8443/prefix/", "ses.example.com:8443", "/prefix"),
        ("http://[::1]:4566", "[::1]:4566", ""),
        ("http://[::1]", "[::1]", ""),
    ])
    func hostHeaderKeepsOnlyNonDefaultPorts(url: String, host: String, base: String) throws {
        let endpoint = try SESEndpoint(parsing: url)
        #expect(endpoint.hostHeader == host)
        #expect(endpoint.basePath == base)
    }

    @Test(arguments: [
        ("127.0.0.1:5000", "no scheme"),
        ("ftp://x.example", "scheme is not http(s)"),
        ("http://", "no host"),
        ("http://x.example:99999", "invalid port"),
        ("http://x.example:abc", "invalid port"),
        ("http://user:pw@x.example", "user info not allowed"),
        ("http://x.example/?a=b", "query or fragment not allowed"),
    ])
    func badEndpointsAreRefusedWithAReason(url: String, reason: String) {
        #expect(throws: SESClient.ConfigurationError.invalidEndpoint(url, reason)) {
            try SESEndpoint(parsing: url)
        }
    }

    @Test func regionComesFromConfigurationThenEnvironment() {
        typealias C = SESClient.Configuration
        let env = ["AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"]
        #expect(C.region(configured: "ap-south-1", environment: env) == "ap-south-1")
        #expect(C.region(configured: nil, environment: env) == "eu-west-1")
        #expect(
            C.region(configured: "", environment: ["AWS_DEFAULT_REGION": "us-west-2"])
                == "us-west-2")
        #expect(C.region(configured: nil, environment: [:]) == nil)
    }

    @Test func invalidRegionIsRefused() {
        let credentials = AWSCredentials(accessKeyId: "a", secretAccessKey: "b")
        #expect(throws: SESClient.ConfigurationError.invalidRegion("eu west")) {
            try SESClient(configuration: .init(region: "eu west", credentials: credentials))
        }
    }
}

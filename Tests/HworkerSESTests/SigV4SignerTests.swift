import Foundation
import HworkerSES
import HworkerTestSupport
import Testing

@Suite struct SigV4SignerTests {
    /// AWS's published suite, case `post-x-www-form-urlencoded`.
    @Test func awsSuiteVectorProducesThePublishedSignature() {
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyId: "AKIDEXAMPLE",
                secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "service")
        let headers = signer.sign(
            method: "POST", host: "example.amazonaws.com", path: "/",
            headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded")],
            body: Array("Param1=value1".utf8), date: Date(timeIntervalSince1970: 1_440_938_160))

        #expect(headers.value(for: "X-Amz-Date") == "20150830T123600Z")
        #expect(
            headers.value(for: "Authorization")
                == "AWS4-HMAC-SHA256 "
                + "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=content-type;host;x-amz-date, "
                + "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")
        #expect(headers.value(for: "X-Amz-Security-Token") == nil)
    }

    @Test func sessionTokenIsSentAndSigned() {
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyId: "AKID", secretAccessKey: "s", sessionToken: "tok"),
            region: "eu-west-1")
        let headers = signer.sign(method: "GET", host: "h", path: "/", body: [], date: Date())
        #expect(headers.map(\.name) == ["X-Amz-Date", "X-Amz-Security-Token", "Authorization"])
        #expect(headers.value(for: "X-Amz-Security-Token") == "tok")
        #expect(
            headers.value(for: "Authorization")?.contains(
                "/eu-west-1/ses/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token,")
                == true)
    }

    struct Vector: Decodable {
        var method: String
        var host: String
        var path: String
        var query: String
        var headers: [[String]]
        var body: String
        var access_key_id: String
        var secret_access_key: String
        var session_token: String?
        var region: String
        var service: String
        var epoch: Int
        var amz_date: String
        var authorization: String
    }

    /// botocore signs 150 varied requests; our signer must agree on every one.
    @Test func matchesBotocoreOnGeneratedRequests() throws {
        let json = try PythonScript.run("sigv4-vectors.py", ["150", "20250101"])
        let vectors = try JSONDecoder().decode([Vector].self, from: Data(json))
        #expect(vectors.count == 150)

        for vector in vectors {
            let signer = SigV4Signer(
                credentials: AWSCredentials(
                    accessKeyId: vector.access_key_id, secretAccessKey: vector.secret_access_key,
                    sessionToken: vector.session_token),
                region: vector.region, service: vector.service)
            let headers = signer.sign(
                method: vector.method, host: vector.host, path: vector.path, query: vector.query,
                headers: vector.headers.map { HTTPHeader($0[0], $0[1]) },
                body: [UInt8](Data(base64Encoded: vector.body) ?? Data()),
                date: Date(timeIntervalSince1970: TimeInterval(vector.epoch)))
            #expect(headers.value(for: "X-Amz-Date") == vector.amz_date)
            #expect(
                headers.value(for: "Authorization") == vector.authorization,
                "\(vector.method) \(vector.host)\(vector.path)?\(vector.query)")
        }
    }
}

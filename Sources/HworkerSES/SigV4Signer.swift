// AWS Signature Version 4 for requests to SES.
//
// The SES client signs every request just before sending it. The signer is a
// pure function of the request, the credentials and the time: it signs the
// headers it is given plus `host`, `x-amz-date` and, for temporary
// credentials, `x-amz-security-token`, and returns the headers to add. The
// caller must send exactly the bytes and the Host value it signed; the HTTP
// client does so by setting Host and Content-Length itself.
//
// Canonical forms follow the SigV4 specification as botocore implements it
// for non-S3 services: the path has dot segments and empty segments removed
// and is percent-encoded again (so `%20` becomes `%2520`); query parameters
// are decoded, re-encoded with only unreserved characters left bare, and
// sorted by name, then value; header values are trimmed and runs of
// whitespace squeezed to one space.

import FoundationEssentials

/// Signs HTTP requests with AWS SigV4.
public struct SigV4Signer: Sendable {
    /// The key that signs.
    public var credentials: AWSCredentials

    /// The region in the credential scope, such as `eu-west-1`.
    public var region: String

    /// The signing name of the service; `ses` for SES (not `email`).
    public var service: String

    /// Creates a signer.
    ///
    /// - Parameters:
    ///   - credentials: The key that signs.
    ///   - region: The region, such as `us-east-1`.
    ///   - service: The service's signing name.
    public init(credentials: AWSCredentials, region: String, service: String = "ses") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Signs a request and returns the headers to add to it.
    ///
    /// - Parameters:
    ///   - method: The HTTP method, such as `POST`.
    ///   - host: The Host header exactly as sent, with the port when it is not the
    ///     scheme's default (`127.0.0.1:5000`).
    ///   - path: The path as sent on the wire (already percent-encoded), such as `/`.
    ///   - query: The query string as sent, without `?`; empty for none.
    ///   - headers: Further headers to sign, such as `Content-Type`; all of them are signed.
    ///   - body: The exact body bytes.
    ///   - date: The signing time; AWS refuses signatures more than 15 minutes off.
    /// - Returns: `X-Amz-Date`, `X-Amz-Security-Token` (with a session token) and
    ///   `Authorization`, in that order.
    public func sign(
        method: String, host: String, path: String, query: String = "",
        headers: [HTTPHeader] = [], body: [UInt8], date: Date
    ) -> [HTTPHeader] {
        let time = AmzDate(date)
        var added = [HTTPHeader("X-Amz-Date", time.timestamp)]
        if let token = credentials.sessionToken {
            added.append(HTTPHeader("X-Amz-Security-Token", token))
        }

        let signed = Self.canonicalHeaders([HTTPHeader("Host", host)] + headers + added)
        let canonical = [
            method.uppercased(),
            Self.canonicalPath(path),
            Self.canonicalQuery(query),
            signed.map { "\($0.name):\($0.value)\n" }.joined(),
            signed.map(\.name).joined(separator: ";"),
            Digest.hex(Digest.sha256(body)),
        ].joined(separator: "\n")

        let scope = "\(time.day)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256", time.timestamp, scope,
            Digest.hex(Digest.sha256(Array(canonical.utf8))),
        ].joined(separator: "\n")
        let signature = Digest.hex(
            Digest.hmacSHA256(key: signingKey(day: time.day), data: Array(stringToSign.utf8)))

        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(scope), "
            + "SignedHeaders=\(signed.map(\.name).joined(separator: ";")), Signature=\(signature)"
        return added + [HTTPHeader("Authorization", authorization)]
    }

    /// The HMAC chain `AWS4<secret>` → day → region → service → `aws4_request`.
    private func signingKey(day: Substring) -> [UInt8] {
        var key = Array(("AWS4" + credentials.secretAccessKey).utf8)
        for part in [String(day), region, service, "aws4_request"] {
            key = Digest.hmacSHA256(key: key, data: Array(part.utf8))
        }
        return key
    }
}

extension SigV4Signer {
    /// Lower-case names, sorted; values trimmed and squeezed; repeated names joined by `,`.
    static func canonicalHeaders(_ headers: [HTTPHeader]) -> [HTTPHeader] {
        var byName: [String: [String]] = [:]
        for header in headers {
            let squeezed = header.value.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            byName[header.name.lowercased(), default: []].append(squeezed)
        }
        return byName.keys.sorted(by: utf8Order).map { name in
            HTTPHeader(name, byName[name, default: []].joined(separator: ","))
        }
    }

    /// The path without dot segments and empty segments, percent-encoded again.
    static func canonicalPath(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/") where segment != "." {
            if segment == ".." {
                _ = segments.popLast()
            } else {
                segments.append(segment)
            }
        }
        var normalized = (path.hasPrefix("/") ? "/" : "") + segments.joined(separator: "/")
        if path.hasSuffix("/") && !segments.isEmpty { normalized += "/" }
        if normalized.isEmpty { normalized = "/" }
        return percentEncode(normalized.utf8, keeping: "/")
    }

    /// Parameters decoded, re-encoded and sorted by name, then value.
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = percentEncode(percentDecode(parts[0]), keeping: "")
            let value = parts.count > 1 ? percentEncode(percentDecode(parts[1]), keeping: "") : ""
            return (name, value)
        }
        return
            pairs
            .sorted { $0.0 == $1.0 ? utf8Order($0.1, $1.1) : utf8Order($0.0, $1.0) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Percent-encodes every byte except unreserved characters and those in `keeping`.
    static func percentEncode<S: Sequence<UInt8>>(_ bytes: S, keeping: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        let kept = Array(keeping.utf8)
        var out: [UInt8] = []
        for byte in bytes {
            let unreserved =
                (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || (0x30...0x39).contains(byte) || "-._~".utf8.contains(byte)
            if unreserved || kept.contains(byte) {
                out.append(byte)
            } else {
                out += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as it is.
    static func percentDecode(_ text: Substring) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x25, index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    /// Byte-wise order, as SigV4 sorts.
    private static func utf8Order(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

import Foundation
import Testing

@testable import HworkerMail

@Suite struct EncodingTests {
    @Test(arguments: [0, 1, 2, 3, 4, 5, 56, 57, 58, 1000])
    func base64MatchesFoundation(count: Int) {
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        #expect(Base64.encode(bytes) == Data(bytes).base64EncodedString())
        var lines: [UInt8] = []
        Base64.appendLines(bytes, to: &lines)
        let text = String(decoding: lines, as: UTF8.self)
        #expect(text.replacingOccurrences(of: "\r\n", with: "") == Base64.encode(bytes))
        #expect(text.components(separatedBy: "\r\n").allSatisfy { $0.count <= 76 })
    }

    private func qp(_ text: String) -> String {
        var out: [UInt8] = []
        QuotedPrintable.append(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func quotedPrintableEscapesWhatItMust() {
        #expect(qp("plain text") == "plain text")
        #expect(qp("a=b") == "a=3Db")
        #expect(qp("é") == "=C3=A9")
        #expect(qp("trailing \nspace\t") == "trailing=20\r\nspace=09")
        #expect(qp("a\r\nb\rc\nd\n") == "a\r\nb\r\nc\r\nd\r\n")
        #expect(qp("") == "")
    }

    @Test func quotedPrintableSoftBreaksAt76() {
        let long = String(repeating: "x", count: 200)
        let lines = qp(long).components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.count <= 76 })
        #expect(lines.dropLast().allSatisfy { $0.hasSuffix("=") })
        #expect(lines.map { $0.hasSuffix("=") ? String($0.dropLast()) : $0 }.joined() == long)

        // An escape is never split across a soft break.
        let escapes = qp(String(repeating: "é", count: 40))
        for line in escapes.components(separatedBy: "\r\n") {
            #expect(line.count <= 76)
            #expect(isWellFormed(line), "\(line)")
        }
        // Exactly 76 characters fit without a soft break.
        #expect(!qp(String(repeating: "y", count: 76)).contains("\r\n"))
        #expect(qp(String(repeating: "y", count: 77)).contains("=\r\n"))
    }

    /// Every `=` starts a two-digit escape, except a soft break's final `=`.
    private func isWellFormed(_ line: String) -> Bool {
        var rest = Substring(line)
        while let equals = rest.firstIndex(of: "=") {
            let escape = rest[rest.index(after: equals)...].prefix(2)
            if escape.isEmpty { return rest.index(after: equals) == rest.endIndex }
            guard escape.count == 2, escape.allSatisfy(\.isHexDigit) else { return false }
            rest = rest[rest.index(equals, offsetBy: 3)...]
        }
        return true
    }

    @Test func encodedWordsHoldWholeScalarsAndStayShort() {
        let words = EncodedWords.encode(String(repeating: "日本語😀", count: 10))
        #expect(words.count > 1)
        for word in words {
            #expect(word.count <= 75)
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?="))
            let payload = String(word.dropFirst(10).dropLast(2))
            let decoded = Data(base64Encoded: payload).flatMap { String(data: $0, encoding: .utf8) }
            #expect(decoded != nil, "word splits a scalar: \(word)")
        }
    }

    @Test func longParametersUseRFC2231Continuations() {
        #expect(MIMEParameter.format("filename", "a.pdf") == ["filename=\"a.pdf\""])
        #expect(MIMEParameter.format("filename", "a\"b.pdf") == ["filename=\"a\\\"b.pdf\""])
        #expect(MIMEParameter.format("filename", "€.pdf") == ["filename*=utf-8''%E2%82%AC.pdf"])
        let long = MIMEParameter.format("filename", String(repeating: "ü", count: 40))
        #expect(long.count > 1)
        #expect(long[0].hasPrefix("filename*0*=utf-8''%C3%BC"))
        #expect(long[1].hasPrefix("filename*1*=%"))
        #expect(long.allSatisfy { $0.count <= 75 })
    }
}

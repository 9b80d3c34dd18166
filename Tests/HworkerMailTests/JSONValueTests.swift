// The worker's JSON reader must agree with JSONDecoder on every message it
// accepts, and give up on everything else.

import Foundation
import HworkerMail
import Testing

@Suite("JSON reader")
struct JSONValueTests {
    private func fast(_ text: String) -> EmailMessage? {
        JSONValue.parse(Array(text.utf8)).flatMap { EmailMessage(json: $0) }
    }

    private func decoded(_ text: String) -> EmailMessage? {
        try? JSONDecoder().decode(EmailMessage.self, from: Data(text.utf8))
    }

    @Test(arguments: [
        #"{"to": ["a@example.com"], "subject": "Hi", "text": "Body"}"#,
        #"{"from": "Ann <ann@example.com>", "to": [], "cc": ["b@example.com"], "bcc": null}"#,
        #"{"to": ["a@example.com"], "headers": [{"name": "X-A", "value": "1", "extra": [true]}]}"#,
        #"{"to": ["a@example.com"], "tags": [{"name": "t", "value": "v"}], "unknown": {"x": []}}"#,
        #"{"reply_to": ["r@example.com"], "#
            + #""html": "<p>\u00e9\ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t</p>"}"#,
        #"  {"subject": "caf\u00E9", "configuration_set": "cs", "text": "é 😀"}  "#,
        #"{}"#,
    ])
    func agreesWithJSONDecoder(text: String) throws {
        let expected = try #require(decoded(text))
        #expect(fast(text) == expected)
    }

    @Test(arguments: [
        #"{"to": "a@example.com"}"#,
        #"{"to": [null]}"#,
        #"{"subject": 5}"#,
        #"{"subject": "a", "subject": "b"}"#,
        #"{"headers": [{"name": "X"}]}"#,
        #"{"raw": "aGk="}"#,
        #"{"attachments": []}"#,
        #"{"text": "\ud800"}"#,
        #"{"text": "a"} x"#,
        #"{"text": "a",}"#,
        "{\"text\": \"tab\tinside\"}",
        #"{"n": 1}"#,
        #"[]"#,
    ])
    func leavesEverythingElseToJSONDecoder(text: String) {
        #expect(fast(text) == nil)
    }

    @Test func randomMessagesRoundTripTheSameWay() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("aZ09 \"\\/\n\t\u{7f}é€😀<>&=-_.@\u{0}")
        func word() -> String {
            String(
                (0..<Int.random(in: 0...12, using: &generator)).map { _ in
                    alphabet.randomElement(using: &generator)!
                })
        }
        for _ in 0..<300 {
            let message = EmailMessage(
                from: Bool.random() ? word() : nil,
                to: (0..<Int.random(in: 0...3)).map { _ in word() },
                cc: [word()], replyTo: Bool.random() ? [word()] : [], subject: word(),
                text: Bool.random() ? word() : nil, html: word(),
                headers: [.init(name: word(), value: word())],
                configurationSet: Bool.random() ? word() : nil,
                tags: [.init(name: word(), value: word())])
            let text = String(decoding: try JSONEncoder().encode(message), as: UTF8.self)
            #expect(fast(text) == message, "\(text)")
            #expect(decoded(text) == message)
            var written: [UInt8] = []
            message.appendJSON(to: &written)
            #expect(decoded(String(decoding: written, as: UTF8.self)) == message)
        }
    }

    @Test func stringsOfEveryLengthAreEscapedRight() throws {
        let alphabet = Array("abcdefgh\"\\\n\u{1}\u{1f} é😀")
        for length in 0..<200 {
            let text = String((0..<length).map { _ in alphabet.randomElement()! })
            var written: [UInt8] = []
            JSONObjectWriter.appendString(text, to: &written)
            #expect(try JSONDecoder().decode(String.self, from: Data(written)) == text)
            #expect(JSONValue.parse(written) == .string(text))
        }
    }

    @Test func theHandWrittenFormDecodesToTheSameMessageWithBinaryParts() throws {
        let message = EmailMessage(
            from: "a@example.com", to: ["b@example.com"], subject: "s\u{1}", text: "t",
            attachments: [.init(filename: "f.bin", data: Array(0...255))],
            raw: Array("From: a@example.com\r\n\r\nhi".utf8))
        var written: [UInt8] = []
        message.appendJSON(to: &written)
        let text = String(decoding: written, as: UTF8.self)
        #expect(decoded(text) == message)
        #expect(
            text.hasPrefix(#"{"from":"a@example.com","to":["b@example.com"],"subject":"s\u0001""#))
    }
}

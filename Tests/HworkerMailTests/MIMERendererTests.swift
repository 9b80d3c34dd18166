import Foundation
import HworkerMail
import HworkerTestSupport
import Testing

/// What Python's `email` package reads from a rendered message (scripts/mime-parse.py).
struct ParsedMessage: Decodable {
    struct Address: Decodable, Equatable {
        var name: String
        var address: String
    }
    struct Attachment: Decodable {
        var filename: String?
        var content_type: String
        var data: String
    }
    var subject: String?
    var from: [Address]?
    var to: [Address]?
    var cc: [Address]?
    var bcc: [Address]?
    var reply_to: [Address]?
    var headers: [[String]]
    var text: String?
    var html: String?
    var attachments: [Attachment]
    var defects: [String]

    func header(_ name: String) -> String? {
        headers.first { $0.first?.lowercased() == name.lowercased() }?.last
    }

    /// Parses `bytes` with Python.
    static func parse(_ bytes: [UInt8]) throws -> ParsedMessage {
        let json = try PythonScript.run("mime-parse.py", input: bytes)
        return try JSONDecoder().decode(ParsedMessage.self, from: Data(json))
    }
}

@Suite struct MIMERendererTests {
    static let utf8Text = """
        Grüße aus München! Ünïcödé everywhere: 日本語のテキスト, emoji 😀🎉, and a long \
        line that goes well past the seventy-six column limit of quoted-printable lines \
        so that soft breaks are needed = with equals signs = too.
        Trailing spaces here   \nand a tab\t
        .
        From the start of a line.
        """

    static let rich = EmailMessage(
        from: "Jürgen Groß <juergen@bücher.example>",
        to: ["Ann <ann@example.com>", "\"Smith, Bob\" <bob@example.com>", "carol@example.org"],
        cc: ["渡辺 さん <watanabe@example.jp>"],
        bcc: ["secret-bcc@example.net"],
        replyTo: ["Replies <replies@example.com>"],
        subject: "Ünïcödé subject that is long enough to need several encoded words — 日本語 😀",
        text: utf8Text,
        html: "<p>Grüße <b>bold</b> — 日本語</p>\n<p>second = paragraph</p>\n",
        headers: [
            .init(name: "X-Campaign", value: "spring 🌸 sale"),
            .init(
                name: "List-Unsubscribe",
                value: "<mailto:unsubscribe@example.com?subject=unsubscribe>, "
                    + "<https://example.com/unsubscribe/0123456789abcdef0123456789abcdef>"),
        ],
        attachments: [
            .init(filename: "report.pdf", contentType: "application/pdf", data: Array(0...255)),
            .init(
                filename: "Übersicht der Ergebnisse für das Geschäftsjahr 2025 — 日本語.csv",
                contentType: "text/csv; charset=utf-8", data: Array("a,b\r\n1,2\r\n".utf8)),
            .init(filename: "quote \"it\".txt", contentType: "text/plain", data: []),
        ])

    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        bytes.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast()
    }

    @Test func richMessageRoundTripsThroughPythonsParser() throws {
        let bytes = MIMERenderer().render(Self.rich)
        let parsed = try ParsedMessage.parse(bytes)

        #expect(parsed.defects == [])
        #expect(parsed.subject == Self.rich.subject)
        #expect(
            parsed.from == [.init(name: "Jürgen Groß", address: "juergen@xn--bcher-kva.example")])
        #expect(
            parsed.to == [
                .init(name: "Ann", address: "ann@example.com"),
                .init(name: "Smith, Bob", address: "bob@example.com"),
                .init(name: "", address: "carol@example.org"),
            ])
        #expect(parsed.cc == [.init(name: "渡辺 さん", address: "watanabe@example.jp")])
        #expect(parsed.reply_to == [.init(name: "Replies", address: "replies@example.com")])
        #expect(parsed.bcc == nil)
        #expect(!String(decoding: bytes, as: UTF8.self).contains("secret-bcc"))
        #expect(parsed.header("X-Campaign") == "spring 🌸 sale")
        #expect(parsed.header("List-Unsubscribe") == Self.rich.headers[1].value)
        #expect(parsed.header("MIME-Version") == "1.0")

        #expect(normalized(parsed.text) == normalized(Self.rich.text))
        #expect(normalized(parsed.html) == normalized(Self.rich.html))

        #expect(parsed.attachments.count == 3)
        for (got, sent) in zip(parsed.attachments, Self.rich.attachments) {
            #expect(got.filename == sent.filename)
            #expect(got.content_type == sent.contentType.split(separator: ";")[0].lowercased())
            #expect(Data(base64Encoded: got.data) == Data(sent.data))
        }
    }

    @Test func everyLineEndsInCRLFAndStaysShort() {
        let bytes = MIMERenderer(date: Date(), messageIDDomain: "example.com").render(Self.rich)
        #expect(bytes.suffix(2) == [0x0D, 0x0A])
        let lines = Self.lines(bytes)
        for line in lines {
            #expect(line.last == 0x0D, "bare LF in \(String(decoding: line, as: UTF8.self))")
            #expect(!line.dropLast().contains(0x0D), "bare CR")
            #expect(line.count - 1 <= 100, "long line \(String(decoding: line, as: UTF8.self))")
        }
        let headerEnd = lines.firstIndex { $0.count == 1 } ?? lines.endIndex
        for line in lines[headerEnd...] {
            #expect(line.count - 1 <= 78, "\(String(decoding: line, as: UTF8.self))")
        }
        #expect(bytes.allSatisfy { $0 < 0x80 }, "rendered message must be 7-bit")
    }

    @Test func textOnlyMessageIsASinglePart() throws {
        let message = EmailMessage(
            from: "a@example.com", to: ["b@example.com"], subject: "Hi", text: "Hello\n")
        let rendered = String(decoding: MIMERenderer().render(message), as: UTF8.self)
        #expect(
            rendered == "From: a@example.com\r\nTo: b@example.com\r\nSubject: Hi\r\n"
                + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "Content-Transfer-Encoding: quoted-printable\r\n\r\nHello\r\n")
        #expect(try ParsedMessage.parse(Array(rendered.utf8)).text == "Hello\r\n")
    }

    @Test func structureFollowsTheContent() throws {
        func structure(_ message: EmailMessage) throws -> String {
            let json = try PythonScript.run("mime-parse.py", input: MIMERenderer().render(message))
            let object = try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any]
            let data = try JSONSerialization.data(
                withJSONObject: object?["structure"] ?? "",
                options: [.sortedKeys, .fragmentsAllowed])
            return String(decoding: data, as: UTF8.self)
        }
        var message = EmailMessage(from: "a@example.com", to: ["b@example.com"], subject: "s")
        message.html = "<p>x</p>"
        #expect(try structure(message) == "\"text\\/html\"")
        message.text = "x"
        #expect(
            try structure(message)
                == "{\"multipart\\/alternative\":[\"text\\/plain\",\"text\\/html\"]}")
        message.attachments = [.init(filename: "a.bin", data: [1, 2, 3])]
        #expect(
            try structure(message)
                == "{\"multipart\\/mixed\":[{\"multipart\\/alternative\":[\"text\\/plain\","
                + "\"text\\/html\"]},\"application\\/octet-stream\"]}")
        message.html = nil
        #expect(
            try structure(message)
                == "{\"multipart\\/mixed\":[\"text\\/plain\",\"application\\/octet-stream\"]}")
    }

    @Test func boundariesAreRandom() {
        var message = Self.rich
        message.attachments = [.init(filename: "a", data: [1])]
        let first = String(decoding: MIMERenderer().render(message), as: UTF8.self)
        let second = String(decoding: MIMERenderer().render(message), as: UTF8.self)
        let boundary = { (text: String) in
            text.components(separatedBy: "boundary=\"")[1].components(separatedBy: "\"")[0]
        }
        #expect(boundary(first) != boundary(second))
        #expect(boundary(first).count <= 70)
    }

    @Test func dateAndMessageIDAreOptional() throws {
        let message = EmailMessage(
            from: "a@example.com", to: ["b@example.com"], subject: "s", text: "t")
        let plain = try ParsedMessage.parse(MIMERenderer().render(message))
        #expect(plain.header("Date") == nil)
        #expect(plain.header("Message-ID") == nil)

        let date = Date(timeIntervalSince1970: 1_700_000_000)
        let dated = try ParsedMessage.parse(
            MIMERenderer(date: date, messageIDDomain: "mail.example.com").render(message))
        #expect(dated.header("Date") == "Tue, 14 Nov 2023 22:13:20 +0000")
        let messageID = try #require(dated.header("Message-ID"))
        #expect(messageID.hasPrefix("<") && messageID.hasSuffix("@mail.example.com>"))

        var own = message
        own.headers = [.init(name: "Date", value: "Mon, 01 Jan 2024 00:00:00 +0000")]
        own.headers.append(.init(name: "Message-ID", value: "<mine@example.com>"))
        let kept = try ParsedMessage.parse(
            MIMERenderer(date: date, messageIDDomain: "x.example").render(own))
        #expect(
            kept.headers.filter { $0[0] == "Date" }.map { $0[1] } == [
                "Mon, 01 Jan 2024 00:00:00 +0000"
            ])
        #expect(
            kept.headers.filter { $0[0] == "Message-ID" }.map { $0[1] } == ["<mine@example.com>"])
    }

    @Test func rawMessagePassesThroughUnchanged() {
        let raw = Array("From: a@example.com\nTo: b@example.com\n\nbody".utf8)
        #expect(MIMERenderer().render(EmailMessage(raw: raw)) == raw)
    }

    @Test func sizeEstimateIsNeverBelowTheRenderedSize() {
        var messages = [Self.rich]
        var big = Self.rich
        big.attachments = [.init(filename: "x.bin", data: (0..<300_000).map { UInt8($0 % 251) })]
        big.text = String(repeating: "é=\n ", count: 20_000)
        messages.append(big)
        messages.append(
            EmailMessage(from: "a@example.com", to: ["b@example.com"], subject: "s", text: ""))
        for message in messages {
            let actual = MIMERenderer(date: Date(), messageIDDomain: "example.com").render(message)
                .count
            let estimate = MIMERenderer.estimatedSize(of: message)
            #expect(estimate >= actual)
            #expect(estimate < actual * 3 + 4096)
        }
    }

    private func normalized(_ text: String?) -> String? {
        text?.replacingOccurrences(of: "\r\n", with: "\n")
    }
}

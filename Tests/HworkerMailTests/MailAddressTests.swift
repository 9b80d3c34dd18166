import HworkerMail
import Testing

@Suite struct MailAddressTests {
    @Test(
        arguments: [
            ("bob@example.com", nil, "bob", "example.com"),
            ("  bob@example.com ", nil, "bob", "example.com"),
            ("Bob Smith <bob@example.com>", "Bob Smith", "bob", "example.com"),
            ("<bob@example.com>", nil, "bob", "example.com"),
            ("\"Smith, Bob\" <bob@example.com>", "Smith, Bob", "bob", "example.com"),
            (
                "\"Say \\\"hi\\\"\"<a.b+tag@mail.example.org>", "Say \"hi\"", "a.b+tag",
                "mail.example.org"
            ),
            ("Jürgen Groß <j@bücher.example>", "Jürgen Groß", "j", "bücher.example"),
            ("渡辺 <w@例え.テスト>", "渡辺", "w", "例え.テスト"),
            ("o'neil!#$%&*=?^_`{|}~-/@x-y.example", nil, "o'neil!#$%&*=?^_`{|}~-/", "x-y.example"),
        ] as [(String, String?, String, String)])
    func acceptedAddressesParseIntoParts(
        text: String, name: String?, local: String, domain: String
    ) throws {
        let address = try MailAddress(parsing: text)
        #expect(address.displayName == name)
        #expect(address.localPart == local)
        #expect(address.domain == domain)
    }

    @Test(
        arguments: [
            ("", MailAddress.Problem.empty),
            ("   ", .empty),
            ("bob@", .emptyDomain),
            ("@example.com", .emptyLocalPart),
            ("bob", .missingAt),
            ("a@b@example.com", .multipleAt),
            ("bob smith@example.com", .whitespace),
            ("Bob <bob @example.com>", .whitespace),
            ("bob@example.com\r\nBcc: x@evil.example", .controlCharacter),
            ("Bob\n <bob@example.com>", .controlCharacter),
            ("bob@exa\0mple.com", .controlCharacter),
            ("Bob <bob@example.com", .unbalancedAngleBrackets),
            ("Bob bob@example.com>", .unbalancedAngleBrackets),
            ("Bob <bob@example.com> x", .unbalancedAngleBrackets),
            ("Bob <<bob@example.com>>", .unbalancedAngleBrackets),
            ("\"Bob <bob@example.com>", .unterminatedQuote),
            ("jürgen@example.com", .nonASCIILocalPart),
            ("bob(x)@example.com", .invalidLocalPartCharacter("(")),
            (".bob@example.com", .misplacedDot),
            ("bo..b@example.com", .misplacedDot),
            ("bob@exa_mple.com", .invalidDomainCharacter("_")),
            ("bob@[127.0.0.1]", .invalidDomainCharacter("[")),
            ("bob@example..com", .emptyDomainLabel),
            ("bob@example.com.", .emptyDomainLabel),
            ("bob@-example.com", .hyphenAtLabelEdge),
            ("bob@localhost", .domainWithoutDot),
            ("bob@" + String(repeating: "a", count: 64) + ".com", .domainTooLong),
        ] as [(String, MailAddress.Problem)])
    func rejectedAddressesNameTheirProblem(text: String, problem: MailAddress.Problem) {
        #expect(throws: problem) { try MailAddress(parsing: text) }
    }

    @Test func problemsReadAsShortPhrases() {
        #expect(MailAddress.Problem.emptyDomain.description == "empty domain")
        #expect(
            MailAddress.Problem.invalidDomainCharacter("_").description
                == "character \"_\" not allowed in the domain")
    }

    @Test(arguments: [
        ("bob@example.com", "bob@example.com"),
        ("Bob Smith <bob@example.com>", "Bob Smith <bob@example.com>"),
        ("\"Smith, Bob\" <bob@example.com>", "\"Smith, Bob\" <bob@example.com>"),
        ("\"a\\\"b\" <bob@example.com>", "\"a\\\"b\" <bob@example.com>"),
        ("Jürgen <j@bücher.example>", "=?UTF-8?B?SsO8cmdlbg==?= <j@xn--bcher-kva.example>"),
        ("<j@MÜNCHEN.example>", "j@xn--mnchen-3ya.example"),
    ])
    func encodedFormQuotesEncodesAndPunycodes(text: String, expected: String) throws {
        #expect(try MailAddress(parsing: text).encoded == expected)
    }
}

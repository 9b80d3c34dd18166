import Foundation
import HworkerMail
import Testing

@Suite struct IDNATests {
    @Test(arguments: [
        ("bücher.example", "xn--bcher-kva.example"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("example.com", "example.com"),
        ("Mixed-Case.Example", "Mixed-Case.Example"),
        ("ü", "xn--tda"),
    ])
    func knownDomainsEncode(domain: String, expected: String) {
        #expect(IDNA.asciiDomain(domain) == expected)
    }

    /// Python's `punycode` codec is an independent RFC 3492 implementation.
    @Test func labelsMatchPythonsPunycodeCodec() throws {
        let labels = [
            "bücher", "例え", "テスト", "mañana", "ελληνικά", "россия", "中文网", "a-ü-b",
            "ドメイン名例", "😀smile", "x日本語y", "ąęśćżźółń", "हिन्दी", "ที่นี่",
        ]
        let script =
            "import sys\nfor l in sys.stdin.read().split():"
            + " print('xn--' + l.encode('punycode').decode())"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(labels.joined(separator: "\n").utf8))
        try input.fileHandleForWriting.close()
        let expected = String(
            decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self
        )
        .split(separator: "\n").map(String.init)
        process.waitUntilExit()

        #expect(expected.count == labels.count)
        for (label, python) in zip(labels, expected) {
            #expect(IDNA.asciiDomain(label) == python, "\(label)")
        }
    }
}

import Testing

@testable import HworkerDaemon

@Suite("Configuration files")
struct ConfigParserTests {
    private let required = "rate = 14\nfrom = a@example.com\nregion = eu-west-1\n"

    private func error(_ text: String) -> String {
        do {
            _ = try ConfigParser.parse(text, file: "t.conf")
            return "parsed"
        } catch {
            return error.description
        }
    }

    @Test func defaultsFillEverythingNotGiven() throws {
        let config = try ConfigParser.parse(required, file: "t.conf")
        #expect(config.queue == "mail")
        #expect(config.workers == 2)
        #expect(config.burst == 0)
        #expect(config.maxAttempts == 8)
        #expect(config.drainDeadline == 30)
    }

    @Test func durationsTakeUnits() throws {
        let text =
            required
            + "drain_deadline = 2m\nretry_base = 250ms\nresult_ttl = 7d\nsend_timeout = 9\n"
        let config = try ConfigParser.parse(text, file: "t.conf")
        #expect(config.drainDeadline == 120)
        #expect(config.retryBase == 0.25)
        #expect(config.resultTTL == 604_800)
        #expect(config.sendTimeout == 9)
    }

    @Test func quotedValuesAndCommentsAreRead() throws {
        let text =
            "from = \"Shop # 1 <a@example.com>\"  # the sender\nrate = 3\nregion = us-east-1\n"
        let config = try ConfigParser.parse(text, file: "t.conf")
        #expect(config.from == "Shop # 1 <a@example.com>")
    }

    @Test func errorsNameFileLineAndKey() {
        #expect(error(required + "workers = 0\n") == "t.conf:4: workers: 0 is out of range 1...256")
        #expect(error("colour = blue\n" + required) == "t.conf:1: colour: unknown key")
        #expect(error(required + "just words\n") == "t.conf:4: expected `key = value`")
        #expect(error(required + "rate = 2\n") == "t.conf:4: rate: given twice (first on line 1)")
        #expect(error("rate = 1\nregion = us-east-1\n") == "t.conf: from: required key is missing")
        #expect(
            error(required + "redis = nowhere\n").hasPrefix("t.conf:4: redis: expected host:port"))
        #expect(error(required + "log_level = loud\n").contains("expected one of debug, info"))
    }

    @Test func endpointsAreCheckedAsTheSESClientReadsThem() {
        let withPassword = error(required + "ses_endpoint = http://user:pw@127.0.0.1:5400\n")
        #expect(withPassword.hasPrefix("t.conf:4: ses_endpoint: user info not allowed"))
        #expect(!withPassword.contains("pw"))
        #expect(
            error(required + "ses_endpoint = http://127.0.0.1:5400/p?x=1\n")
                == "t.conf:4: ses_endpoint: query or fragment not allowed in "
                + "\"http://127.0.0.1:5400/p?x=1\"")
        #expect(error(required + "ses_endpoint = http://127.0.0.1:0\n").contains("invalid port"))
        #expect(error(required + "ses_endpoint = https://email.example.com/base\n") == "parsed")
    }

    @Test func unlimitedAndAutomaticRatesAreDescribedAsSuch() throws {
        let unlimited = try ConfigParser.parse(
            "rate = unlimited\nfrom = a@example.com\nregion = eu-west-1\n", file: "t.conf")
        #expect(unlimited.rateDescription == "unlimited")
        #expect(try ConfigParser.parse(required, file: "t.conf").rateDescription == "14.0/s")
    }

    @Test func secretValuesAreNeverEchoed() {
        let text = required + "aws_access_key_id = AKIDX\naws_secret_access_key =\n"
        let message = error(text)
        #expect(message == "t.conf:5: aws_secret_access_key: must not be empty")
        let half = error(required + "aws_secret_access_key = s3cr3t-value\n")
        #expect(!half.contains("s3cr3t-value"))
        #expect(
            half.contains("aws_secret_access_key: is given without aws_access_key_id"))
    }

    @Test func regionComesFromTheEnvironmentWhenTheFileHasNone() throws {
        let config = try ConfigParser.parse(
            "rate = 1\nfrom = a@example.com\n", file: "t.conf",
            environment: ["AWS_REGION": "ap-south-1"])
        #expect(config.region == "ap-south-1")
    }

    @Test func logValuesCannotBreakALine() {
        #expect(
            Logger.logfmt([("msg", "two\nlines"), ("k", "plain")]) == "msg=\"two\\nlines\" k=plain")
        #expect(Logger.json([("a", "q\"")]) == "{\"a\":\"q\\\"\"}")
    }
}

@Suite("Configuration files under fuzzing")
struct ConfigFuzzTests {
    @Test func randomBrokenFilesAlwaysGiveAnErrorWithFileAndLine() {
        var generator = SystemRandomNumberGenerator()
        let keys = [
            "queue", "redis", "workers", "rate", "burst", "from", "region", "drain_deadline",
            "log_level", "retry_base", "max_attempts", "redis_password", "rate_scope", "x",
        ]
        let values = [
            "", "-1", "1e999", "nan", "\"", "\"\"", "auto", "10ms", "5x", "host:", "unix:", "é",
            "999999999999999999999", "  ", "=", "#", "\u{0}", "debug", "cluster",
        ]
        for _ in 0..<2_000 {
            var lines: [String] = []
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let key = keys.randomElement(using: &generator) ?? "x"
                let value = values.randomElement(using: &generator) ?? ""
                let shape = Int.random(in: 0...3, using: &generator)
                lines.append(
                    shape == 0 ? key : shape == 1 ? "\(key) = \(value)" : "\(key)=\(value)")
            }
            do {
                _ = try ConfigParser.parse(lines.joined(separator: "\n"), file: "fuzz.conf")
            } catch {
                #expect(error.description.hasPrefix("fuzz.conf"))
                #expect(error.line >= 0 && error.line <= lines.count)
            }
        }
    }
}

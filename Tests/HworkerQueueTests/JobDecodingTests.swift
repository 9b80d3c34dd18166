import HworkerQueue
import Testing

@Suite("Decoding jobs from the queue")
struct JobDecodingTests {
    private func reason(_ text: String) -> String {
        do {
            _ = try Job.decode(Array(text.utf8))
            return "decoded"
        } catch {
            return error.reason
        }
    }

    @Test func missingEmailIsNamed() {
        #expect(reason(#"{"id":"a"}"#) == "email: missing")
    }

    @Test func wrongTypeNamesThePath() {
        #expect(reason(#"{"email":{"to":["a@b.c", 5]}}"#) == "email.to[1]: expected a string")
    }

    @Test func notJSONIsSaid() {
        #expect(reason("hello").hasPrefix("not valid JSON"))
    }

    @Test func jobWithoutIdGetsAStableDerivedId() throws {
        let raw = Array(#"{"email":{"to":["a@b.c"],"subject":"s","text":"t"}}"#.utf8)
        let first = try Job.decode(raw)
        #expect(first.id.hasPrefix("auto-"))
        #expect(try Job.decode(raw).id == first.id)
    }

    @Test func encodedJobDecodesToItself() throws {
        let job = Job(
            id: "x1",
            email: EmailMessage(
                from: "Zoë <z@example.com>", to: ["a@example.com"], cc: ["c@example.com"],
                bcc: ["b@example.com"], replyTo: ["r@example.com"], subject: "Grüße", text: "t",
                html: "<p>h</p>",
                headers: [.init(name: "X-A", value: "1")],
                attachments: [
                    .init(
                        filename: "f.bin", contentType: "application/octet-stream",
                        data: [0, 1, 255])
                ],
                configurationSet: "set", tags: [.init(name: "k", value: "v")]),
            payload: "{\"user\":1}")
        #expect(try Job.decode(job.encoded()) == job)
    }

    @Test func queueKeysShareOneHashTag() throws {
        let keys = try QueueKeys(name: "mail")
        #expect(keys.queue == "hworker:{mail}:queue")
        #expect(keys.inFlight(worker: "w") == "hworker:{mail}:inflight:w")
        #expect(throws: QueueNameError.self) { try QueueKeys(name: "a{b}") }
    }
}

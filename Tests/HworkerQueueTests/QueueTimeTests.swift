// Parsing and formatting of queue times, and reading a job's id from its
// first bytes.

import Foundation
import Testing

@testable import HworkerQueue

@Suite("Queue time")
struct QueueTimeTests {
    @Test(
        arguments: [
            ("1970-01-01T00:00:00Z", 0),
            ("2026-12-04T16:53:06Z", 1_796_403_186_000),
            ("2026-12-04t16:53:06.948z", 1_796_403_186_948),
            ("2026-12-04T16:53:06.9Z", 1_796_403_186_900),
            ("2026-12-04T16:53:06.123456789Z", 1_796_403_186_123),
            ("2026-12-04T17:53:06+01:00", 1_796_403_186_000),
            ("2026-12-04T11:23:06-05:30", 1_796_403_186_000),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000),
            ("2000-03-01T00:00:00Z", 951_868_800_000),
            ("1796403186000", 1_796_403_186_000),
            ("0", 0),
        ] as [(String, Int64)])
    func acceptedFormsGiveEpochMilliseconds(text: String, expected: Int64) throws {
        #expect(try QueueTime(parsing: text).epochMilliseconds == expected)
    }

    @Test(arguments: [
        "", "tomorrow", "2026-12-04", "2026-12-04T16:53:06", "2026-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z", "2026-12-04T24:00:00Z", "2026-12-04T16:53:06.Z",
        "2026-12-04T16:53:06Zjunk", "-5", "1e12", "9999999999999999",
        "1969-12-31T23:59:59Z",
    ])
    func malformedTimesAreRefusedWithTheText(text: String) {
        do {
            _ = try QueueTime(parsing: text)
            Issue.record("accepted \"\(text)\"")
        } catch {
            #expect(error.description.contains("\"\(text)\""))
        }
    }

    @Test func formattingRoundTripsThroughParsing() throws {
        for millis: Int64 in [0, 951_868_800_000, 1_709_164_800_001, 1_796_403_186_948] {
            let time = QueueTime(epochMilliseconds: millis)
            #expect(try QueueTime(parsing: time.rfc3339) == time)
        }
        #expect(
            QueueTime(epochMilliseconds: 1_796_403_186_948).rfc3339 == "2026-12-04T16:53:06.948Z")
    }

    @Test func aDateConvertsToMilliseconds() {
        #expect(QueueTime(Date(timeIntervalSince1970: 12.3456)).epochMilliseconds == 12_345)
    }
}

@Suite("Job id from the first bytes")
struct JobPeekTests {
    @Test func theIdIsFoundAfterOtherMembersOfAnyType() {
        let text =
            #"{"email":{"to":["a@b.c"],"n":[1,{"x":"}"}]},"flag":true,"n":-1.5e3,"id":"x\"y"}"#
        #expect(Job.peekID(Array(text.utf8)) == "x\"y")
    }

    @Test func anIdCutOffOrMissingIsNotGuessed() {
        #expect(Job.peekID(Array(#"{"id":"abc"#.utf8)) == nil)
        #expect(Job.peekID(Array(#"{"email":{"to":["a@b"#.utf8)) == nil)
        #expect(Job.peekID(Array(#"{"email":{}}"#.utf8)) == nil)
        #expect(Job.peekID(Array(#"{"id":42}"#.utf8)) == nil)
        #expect(Job.peekID(Array(#"  {"id" : "spaced"}"#.utf8)) == "spaced")
    }
}

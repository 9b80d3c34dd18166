// Points in time as the queue stores them: whole milliseconds since the Unix
// epoch, UTC.
//
// The delayed set is scored with these numbers, dead letters carry one as
// `failed_at`, and the pause flag one as `paused_at`. Times the queue writes
// itself come from the Redis server's clock (`TIME`); a send-at time comes
// from the producer. Parsing accepts RFC 3339 (`2026-12-04T16:53:06Z`, with
// optional fractions and offsets) or plain epoch milliseconds, and needs no
// calendar library: the civil-date arithmetic below is proleptic Gregorian.

import FoundationEssentials

/// A point in time in milliseconds since the Unix epoch, UTC.
///
/// ```swift
/// let due = try QueueTime(parsing: "2026-12-04T17:00:00Z")
/// let same = try QueueTime(parsing: "1796403600000")
/// print(due.rfc3339)  // 2026-12-04T17:00:00.000Z
/// ```
public struct QueueTime: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var epochMilliseconds: Int64

    /// The latest accepted time, the last millisecond of the year 9999.
    public static let latest = QueueTime(epochMilliseconds: 253_402_300_799_999)

    /// Creates a time from milliseconds since the epoch.
    ///
    /// - Parameter epochMilliseconds: Milliseconds since 1970-01-01T00:00:00Z.
    public init(epochMilliseconds: Int64) {
        self.epochMilliseconds = epochMilliseconds
    }

    /// Creates a time from a `Date`, rounded down to the millisecond.
    ///
    /// - Parameter date: The date.
    public init(_ date: Date) {
        epochMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// Parses an RFC 3339 time or a number of milliseconds since the epoch.
    ///
    /// Accepted forms: `2026-12-04T16:53:06Z`, `2026-12-04T16:53:06.25Z`,
    /// `2026-12-04T17:53:06+01:00` (converted to UTC), and `1796403186000`.
    /// Fractions beyond milliseconds are cut off.
    ///
    /// - Parameter text: The time as written by a user or producer.
    /// - Throws: `QueueTimeError` naming what is wrong.
    public init(parsing text: String) throws(QueueTimeError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw QueueTimeError(text: text, problem: "empty") }
        if bytes.allSatisfy(Self.isDigit) {
            guard bytes.count <= 15, let value = Int64(text), value <= Self.latest.epochMilliseconds
            else { throw QueueTimeError(text: text, problem: "epoch milliseconds out of range") }
            epochMilliseconds = value
            return
        }
        var reader = RFC3339Reader(bytes: bytes, text: text)
        epochMilliseconds = try reader.read()
    }

    /// Decodes a time from a JSON number of milliseconds.
    ///
    /// - Parameter decoder: The decoder.
    /// - Throws: `DecodingError` when the value is not a number.
    public init(from decoder: any Decoder) throws {
        // cjson writes large integers in exponent form, so a double is read.
        let value = try decoder.singleValueContainer().decode(Double.self)
        epochMilliseconds = Int64(value.rounded(.down))
    }

    /// Encodes the time as a JSON number of milliseconds.
    ///
    /// - Parameter encoder: The encoder.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(epochMilliseconds)
    }

    /// The time as `2026-12-04T16:53:06.948Z`.
    public var rfc3339: String {
        let days = Int64((Double(epochMilliseconds) / 86_400_000).rounded(.down))
        let inDay = epochMilliseconds - days * 86_400_000
        let (year, month, day) = Self.civil(fromDays: days)
        let seconds = inDay / 1000
        return "\(Self.padded(year, 4))-\(Self.padded(month, 2))-\(Self.padded(day, 2))T"
            + "\(Self.padded(seconds / 3600, 2)):\(Self.padded(seconds / 60 % 60, 2)):"
            + "\(Self.padded(seconds % 60, 2)).\(Self.padded(inDay % 1000, 3))Z"
    }

    /// The RFC 3339 form, for logs and messages.
    public var description: String { rfc3339 }

    /// Orders times from earlier to later.
    public static func < (lhs: QueueTime, rhs: QueueTime) -> Bool {
        lhs.epochMilliseconds < rhs.epochMilliseconds
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        // Years start in March, so the leap day is the last day of a year.
        let shifted = month <= 2 ? year - 1 : year
        let era = (shifted >= 0 ? shifted : shifted - 399) / 400
        let yearOfEra = shifted - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day number since 1970-01-01.
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra =
            (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let marchMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * marchMonth + 2) / 5 + 1
        let month = marchMonth < 10 ? marchMonth + 3 : marchMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    fileprivate static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}

/// A time that is neither RFC 3339 nor epoch milliseconds.
public struct QueueTimeError: Error, Sendable, CustomStringConvertible {
    /// The text as given.
    public let text: String
    /// What is wrong with it.
    public let problem: String

    /// Names the text, the problem and the accepted forms.
    public var description: String {
        "invalid time \"\(text)\": \(problem) (expected RFC 3339 such as 2026-12-04T16:53:06Z,"
            + " or milliseconds since the epoch)"
    }
}

/// Reads `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`.
private struct RFC3339Reader {
    let bytes: [UInt8]
    let text: String
    var index = 0

    mutating func read() throws(QueueTimeError) -> Int64 {
        let year = try number(4, "year")
        try expect(0x2D, "'-' after the year")
        let month = try number(2, "month")
        try expect(0x2D, "'-' after the month")
        let day = try number(2, "day")
        guard index < bytes.count, [0x54, 0x74, 0x20].contains(bytes[index]) else {
            throw fail("'T' between date and time")
        }
        index += 1
        let hour = try number(2, "hour")
        try expect(0x3A, "':' after the hour")
        let minute = try number(2, "minute")
        try expect(0x3A, "':' after the minute")
        let second = try number(2, "second")
        let millis = try fraction()
        let offset = try zone()
        guard index == bytes.count else { throw fail("unexpected text after the time") }
        guard (1...12).contains(month), (1...Self.daysIn(month, year)).contains(day),
            hour < 24, minute < 60, second <= 60
        else { throw fail("date or time out of range") }
        let days = QueueTime.days(year: year, month: month, day: day)
        let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second - offset
        let result = seconds * 1000 + millis
        guard result >= 0, result <= QueueTime.latest.epochMilliseconds else {
            throw fail("before 1970 or after 9999")
        }
        return result
    }

    private static func daysIn(_ month: Int64, _ year: Int64) -> Int64 {
        switch month {
        case 2:
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            return leap ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private mutating func number(_ width: Int, _ what: String) throws(QueueTimeError) -> Int64 {
        guard index + width <= bytes.count,
            bytes[index..<index + width].allSatisfy(QueueTime.isDigit)
        else { throw fail("expected \(width) digits for the \(what)") }
        var value: Int64 = 0
        for byte in bytes[index..<index + width] { value = value * 10 + Int64(byte - 0x30) }
        index += width
        return value
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(QueueTimeError) {
        guard index < bytes.count, bytes[index] == byte else { throw fail("expected \(what)") }
        index += 1
    }

    /// Milliseconds from an optional `.fraction`; extra digits are cut off.
    private mutating func fraction() throws(QueueTimeError) -> Int64 {
        guard index < bytes.count, bytes[index] == 0x2E else { return 0 }
        index += 1
        var millis: Int64 = 0
        var digits = 0
        while index < bytes.count, QueueTime.isDigit(bytes[index]) {
            if digits < 3 { millis = millis * 10 + Int64(bytes[index] - 0x30) }
            digits += 1
            index += 1
        }
        guard digits > 0 else { throw fail("expected digits after '.'") }
        for _ in digits..<max(digits, 3) { millis *= 10 }
        return millis
    }

    /// The zone's offset east of UTC, in seconds.
    private mutating func zone() throws(QueueTimeError) -> Int64 {
        guard index < bytes.count else { throw fail("expected 'Z' or an offset such as +02:00") }
        let sign = bytes[index]
        index += 1
        if sign == 0x5A || sign == 0x7A { return 0 }
        guard sign == 0x2B || sign == 0x2D else {
            throw fail("expected 'Z' or an offset such as +02:00")
        }
        let hours = try number(2, "offset hours")
        try expect(0x3A, "':' in the offset")
        let minutes = try number(2, "offset minutes")
        guard hours < 24, minutes < 60 else { throw fail("offset out of range") }
        let offset = (hours * 60 + minutes) * 60
        return sign == 0x2B ? offset : -offset
    }

    private func fail(_ problem: String) -> QueueTimeError {
        QueueTimeError(text: text, problem: problem)
    }
}

// The UTC timestamps SigV4 needs: `20150830T123600Z` and its date `20150830`.
//
// Computed with gmtime_r so that neither the locale nor the process time zone
// can change them.

import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A signing time in the forms SigV4 uses.
struct AmzDate: Sendable, Equatable {
    /// `YYYYMMDDTHHMMSSZ`, the `X-Amz-Date` header value.
    var timestamp: String

    /// `YYYYMMDD`, the first part of the credential scope.
    var day: Substring { timestamp.prefix(8) }

    /// Formats `date` in UTC, dropping fractions of a second.
    init(_ date: Date) {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let year = Int(parts.tm_year) + 1900
        let fields = [Int(parts.tm_mon) + 1, Int(parts.tm_mday)].map(Self.pad)
        let clock = [Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec)].map(Self.pad)
        timestamp = "\(year)" + fields.joined() + "T" + clock.joined() + "Z"
    }

    private static func pad(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}

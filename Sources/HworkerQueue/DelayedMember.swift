// Members of the delayed set: a 17-byte unique prefix (16 hex digits and a
// colon) before the job's bytes.
//
// A sorted set keeps one copy of equal members, so two equal jobs scheduled
// at once would merge into one without the prefix. The monitor's promote
// script strips the first 17 bytes when it moves a due member to the queue,
// so every producer that writes to the delayed set must add one.

/// Building members of the delayed set.
enum DelayedMember {
    /// The length of the prefix in bytes, colon included.
    static let prefixLength = 17

    /// A random prefix: 16 lowercase hex digits and a colon.
    static func randomPrefix() -> String {
        let hex = String(UInt64.random(in: .min ... .max), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + ":"
    }

    /// The member that schedules these job bytes.
    ///
    /// - Parameter job: The job's wire form.
    /// - Returns: A fresh random prefix followed by the job's bytes.
    static func member(for job: [UInt8]) -> [UInt8] {
        Array(randomPrefix().utf8) + job
    }
}

// The shared-memory rate segment: its schedule never puts more than
// floor(rate + burst) recipients in a one-second window, and it paces at the
// configured rate.

import Glibc
import HworkerRate
import Testing

private func uniqueName() -> String {
    "/hworker-ses.ratetest\(UInt32.random(in: 0...UInt32.max)).\(getpid())"
}

/// The most recipients whose reservations fall in any half-open window of `length` ns.
private func largestWindow(
    _ reservations: [(time: Int64, count: Int)], length: Int64 = 1_000_000_000
) -> Int {
    let sorted = reservations.sorted { $0.time < $1.time }
    var best = 0
    var total = 0
    var start = 0
    for end in sorted.indices {
        total += sorted[end].count
        while sorted[end].time - sorted[start].time >= length {
            total -= sorted[start].count
            start += 1
        }
        best = max(best, total)
    }
    return best
}

@Suite("Rate segment")
struct RateSegmentTests {
    /// Reserves about five seconds of recipients in messages of `mix` sizes.
    private func schedule(
        rate: Double, burst: Double, mix: [Int]
    ) throws -> (window: Int, achieved: Double) {
        let segment = try RateSegment.create(name: uniqueName(), rate: rate, burst: burst)
        defer { segment.unlink() }
        var reservations: [(time: Int64, count: Int)] = []
        var total = 0
        while total < Int(rate * 5) {
            let count = mix[reservations.count % mix.count]
            reservations.append((segment.reserve(recipients: count), count))
            total += count
        }
        let first = reservations[0].time
        let last = reservations[reservations.count - 1]
        let achieved = Double(total - last.count) / (Double(last.time - first) / 1e9)
        return (largestWindow(reservations), achieved)
    }

    @Test(arguments: [14.0, 20.0, 50.0, 200.0])
    func singleRecipientsRunAtTheRateWithoutExceedingAnyWindow(rate: Double) throws {
        let result = try schedule(rate: rate, burst: 0, mix: [1])
        #expect(result.window <= Int(rate))
        #expect(result.achieved >= rate * 0.99)
        #expect(result.achieved <= rate)
    }

    @Test(arguments: [(20.0, 0.0), (14.0, 0.0), (50.0, 7.0), (20.0, 7.0)])
    func mixedRecipientCountsNeverExceedRatePlusBurst(rate: Double, burst: Double) throws {
        let result = try schedule(rate: rate, burst: burst, mix: [1, 1, 4, 1, 2, 1, 7])
        #expect(result.window <= Int(rate + burst))
        // Over five seconds, the initial burst adds up to burst / 5 per second.
        #expect(result.achieved <= rate * 1.01 + burst / 4)
        // A burst as large as the largest message keeps the long-run rate.
        if burst >= 7 { #expect(result.achieved >= rate * 0.98) }
    }

    @Test func aMessageLargerThanTheWindowIsSentAndBorrowsFromLaterTime() throws {
        let segment = try RateSegment.create(name: uniqueName(), rate: 5, burst: 0)
        defer { segment.unlink() }
        let first = segment.reserve(recipients: 1)
        let big = segment.reserve(recipients: 12)
        let after = segment.reserve(recipients: 1)
        // The big message waits for a clear second, then is sent whole...
        #expect(big - first >= 1_000_000_000)
        // ...and the 13 recipients before `after` are paid for at 5/s.
        #expect(after - first >= 2_600_000_000 - 1_000)
    }

    @Test func attachedSegmentSharesTheSchedule() throws {
        let name = uniqueName()
        let owner = try RateSegment.create(name: name, rate: 10, burst: 0)
        defer { owner.unlink() }
        let other = try RateSegment.attach(name: name)
        let a = owner.reserve(recipients: 1)
        let b = other.reserve(recipients: 1)
        #expect(b - a >= 100_000_000 - 1_000)
        #expect(owner.reservedCount == 2)
    }

    @Test func liveRateChangeTakesEffect() throws {
        let segment = try RateSegment.create(name: uniqueName(), rate: 10, burst: 0)
        defer { segment.unlink() }
        segment.update(rate: 100, burst: 0)
        let a = segment.reserve(recipients: 1)
        let b = segment.reserve(recipients: 1)
        #expect(b - a < 20_000_000)
        #expect(segment.rate == 100)
    }

    @Test func attachingToSomethingElseIsRefused() throws {
        let name = uniqueName()
        let fd = shm_open(name, O_RDWR | O_CREAT, 0o600)
        defer {
            close(fd)
            shm_unlink(name)
        }
        ftruncate(fd, 128)
        #expect(throws: RateError.self) { try RateSegment.attach(name: name) }
    }

    @Test func aLockHeldByADeadProcessIsReleased() throws {
        let segment = try RateSegment.create(name: uniqueName(), rate: 1000, burst: 0)
        defer { segment.unlink() }
        // Not held: nothing to release.
        #expect(!segment.release(heldBy: 999_999))
        #expect(!segment.repairIfHolderDied())
    }
}

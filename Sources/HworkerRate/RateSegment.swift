// The per-server send rate, shared by every worker of a master.
//
// The master creates a POSIX shared-memory segment and a named semaphore
// (both mode 0600); workers attach to them and check the segment's magic,
// version and size before trusting it. A worker that wants to send to k
// recipients takes the semaphore, reserves k slots, releases it and sleeps
// until its reservation is due: nobody sleeps or spins inside the critical
// section, which only reads the clock and does arithmetic (no allocation).
//
// Two rules decide when a reservation is due:
//   - GCRA pacing: recipients are spaced 1/rate apart, with `burst` extra
//     recipients allowed early after an idle period;
//   - a sliding window: once rate + burst recipients were reserved, the next
//     one waits until the oldest of them is more than one second (plus a 9 ms
//     guard against scheduling jitter) old, so no one-second window ever
//     holds more than floor(rate + burst) recipients.
// A message to more recipients than a window holds is still sent: it waits
// until the previous second is clear and borrows from the time after it.
// Because a message's recipients count at once, messages to several
// recipients pack into windows imperfectly; a burst at least as large as
// the usual recipient count keeps the long-run rate at `rate`.
//
// The holder's PID is stored in the segment. Waiters never block for more
// than a second at a time; when the holder is dead, one of them (or the
// master, after reaping it) clears the holder and releases the semaphore.

import CSupport
import Glibc

/// A token bucket in shared memory, used by every worker of one server.
public final class RateSegment {
    /// The name of the shared-memory object, such as `/hworker-ses.mail.1234`.
    public let name: String
    private let segment: UnsafeMutablePointer<hw_rate_segment>
    private let semaphore: UnsafeMutablePointer<sem_t>
    private let ownsObjects: Bool
    private let ring: UnsafeMutablePointer<Int64>

    /// The largest rate + burst a segment can enforce, set by the size of its ring.
    public static let maxWindow = Int(HW_RATE_RING)

    /// The extra wait added to the one-second window, against scheduling jitter.
    public static let windowGuard: Int64 = 9_000_000

    private init(
        name: String, segment: UnsafeMutablePointer<hw_rate_segment>,
        semaphore: UnsafeMutablePointer<sem_t>, owns: Bool
    ) {
        self.name = name
        self.segment = segment
        self.semaphore = semaphore
        ownsObjects = owns
        ring = hw_rate_ring(segment)
    }

    deinit {
        munmap(segment, MemoryLayout<hw_rate_segment>.size)
        sem_close(semaphore)
    }

    /// Creates the segment and its semaphore, replacing stale ones of the same name.
    ///
    /// - Parameters:
    ///   - name: The object name, starting with `/`.
    ///   - rate: Recipients per second.
    ///   - burst: Extra recipients allowed at once after an idle period.
    /// - Returns: The segment, owned by the caller, who should `unlink()` it on exit.
    /// - Throws: `RateError` naming the call that failed and its errno.
    public static func create(name: String, rate: Double, burst: Double) throws(RateError)
        -> RateSegment
    {
        shm_unlink(name)
        sem_unlink(name)
        let fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RateError.system(call: "shm_open", name: name, errno: errno) }
        defer { Glibc.close(fd) }
        let size = MemoryLayout<hw_rate_segment>.size
        guard ftruncate(fd, off_t(size)) == 0 else {
            let code = errno
            shm_unlink(name)
            throw RateError.system(call: "ftruncate", name: name, errno: code)
        }
        let segment = try map(fd: fd, name: name)
        segment.pointee.magic = UInt32(HW_RATE_MAGIC)
        segment.pointee.version = UInt32(HW_RATE_VERSION)
        segment.pointee.size = UInt64(size)
        segment.pointee.rate = rate
        segment.pointee.burst = burst
        segment.pointee.theoretical_ns = 0
        segment.pointee.last_ns = 0
        segment.pointee.count = 0
        segment.pointee.factor = 1
        segment.pointee.factor_ns = Monotonic.now()
        segment.pointee.throttled_ns = 0
        segment.pointee.throttles = 0
        guard let semaphore = sem_open(name, O_CREAT | O_EXCL, 0o600, 1), semaphore != SEM_FAILED
        else {
            let code = errno
            munmap(segment, size)
            shm_unlink(name)
            throw RateError.system(call: "sem_open", name: name, errno: code)
        }
        return RateSegment(name: name, segment: segment, semaphore: semaphore, owns: true)
    }

    /// Attaches to a segment the master created, after checking its magic, version and size.
    ///
    /// - Parameter name: The object name the master passed down.
    /// - Returns: The segment.
    /// - Throws: `RateError.invalidSegment` when it is not ours or of another version.
    public static func attach(name: String) throws(RateError) -> RateSegment {
        let fd = shm_open(name, O_RDWR | O_CLOEXEC, 0)
        guard fd >= 0 else { throw RateError.system(call: "shm_open", name: name, errno: errno) }
        defer { Glibc.close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw RateError.system(call: "fstat", name: name, errno: errno)
        }
        let size = MemoryLayout<hw_rate_segment>.size
        guard status.st_size == size else {
            throw RateError.invalidSegment(
                name: name, reason: "size \(status.st_size), expected \(size)")
        }
        let segment = try map(fd: fd, name: name)
        let header = segment.pointee
        guard header.magic == UInt32(HW_RATE_MAGIC), header.version == UInt32(HW_RATE_VERSION),
            header.size == UInt64(size)
        else {
            munmap(segment, size)
            throw RateError.invalidSegment(name: name, reason: "bad magic or version")
        }
        guard let semaphore = sem_open(name, 0), semaphore != SEM_FAILED else {
            let code = errno
            munmap(segment, size)
            throw RateError.system(call: "sem_open", name: name, errno: code)
        }
        return RateSegment(name: name, segment: segment, semaphore: semaphore, owns: false)
    }

    private static func map(fd: Int32, name: String) throws(RateError) -> UnsafeMutablePointer<
        hw_rate_segment
    > {
        let size = MemoryLayout<hw_rate_segment>.size
        guard let raw = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
            raw != MAP_FAILED
        else { throw RateError.system(call: "mmap", name: name, errno: errno) }
        return raw.bindMemory(to: hw_rate_segment.self, capacity: 1)
    }

    /// Removes the segment and the semaphore names; mappings stay valid until closed.
    public func unlink() {
        shm_unlink(name)
        sem_unlink(name)
    }

    /// The configured rate in recipients per second.
    public var rate: Double { segment.pointee.rate }

    /// The configured burst in recipients.
    public var burst: Double { segment.pointee.burst }

    /// Recipients reserved since the segment was created.
    public var reservedCount: UInt64 { segment.pointee.count }

    /// Changes the rate and burst of the running segment.
    ///
    /// - Parameters:
    ///   - rate: Recipients per second.
    ///   - burst: Extra recipients allowed at once.
    public func update(rate: Double, burst: Double) {
        lock()
        segment.pointee.rate = rate
        segment.pointee.burst = burst
        unlock()
    }

    /// The rate in use now: the configured rate, lowered for a while after SES throttled.
    public var effectiveRate: Double {
        lock()
        let factor = recoveredFactor(now: Monotonic.now())
        let rate = segment.pointee.rate
        unlock()
        return rate * factor
    }

    /// How far ahead of now sends are already reserved, in seconds (0 while there is room).
    public var reservedAheadSeconds: Double {
        lock()
        let ahead = max(segment.pointee.last_ns, segment.pointee.theoretical_ns) - Monotonic.now()
        unlock()
        return max(0, Double(ahead) / 1e9)
    }

    /// Throttling answers reported since the segment was created.
    public var throttleCount: UInt64 { segment.pointee.throttles }

    /// Reports that SES throttled a send: the rate drops multiplicatively (at most once a
    /// second, however many workers report) and every send waits a second; it then
    /// recovers additively.
    public func reportThrottled() {
        lock()
        let now = Monotonic.now()
        let s = segment
        s.pointee.throttles += 1
        if now - s.pointee.throttled_ns >= 1_000_000_000 {
            s.pointee.factor = max(Self.minimumFactor, recoveredFactor(now: now) * Self.decrease)
            s.pointee.throttled_ns = now
            s.pointee.last_ns = max(s.pointee.last_ns, now + 1_000_000_000)
        }
        unlock()
    }

    /// The factor applied to the rate after a throttling answer.
    static let decrease = 0.7
    /// The lowest share of the configured rate feedback may leave.
    static let minimumFactor = 0.1
    /// How much of the configured rate comes back per second without throttling.
    static let recoveryPerSecond = 0.02

    /// Brings the throttling factor up to date; called with the semaphore held.
    private func recoveredFactor(now: Int64) -> Double {
        let s = segment
        let elapsed = Double(max(0, now - s.pointee.factor_ns)) / 1e9
        s.pointee.factor = min(1, s.pointee.factor + elapsed * Self.recoveryPerSecond)
        s.pointee.factor_ns = now
        return s.pointee.factor
    }

    /// A test-only delay spent inside the critical section, so that a test can kill a
    /// worker while it holds the lock; never set in production.
    nonisolated(unsafe) public static var testHoldNanoseconds: Int64 = 0

    /// Reserves slots for `recipients` and returns when the send may start.
    ///
    /// - Parameter recipients: The message's recipient count (at least 1).
    /// - Returns: The `CLOCK_MONOTONIC` time in nanoseconds at which to send.
    public func reserve(recipients: Int) -> Int64 {
        let count = max(1, recipients)
        lock()
        let due = schedule(count, now: Monotonic.now())
        if Self.testHoldNanoseconds > 0 {
            var pause = timespec(
                tv_sec: Int(Self.testHoldNanoseconds / 1_000_000_000),
                tv_nsec: Int(Self.testHoldNanoseconds % 1_000_000_000))
            nanosleep(&pause, nil)
        }
        unlock()
        return due
    }

    /// Computes and records one reservation; called with the semaphore held.
    private func schedule(_ count: Int, now: Int64) -> Int64 {
        let s = segment
        let rate = max(s.pointee.rate * recoveredFactor(now: now), 0.001)
        let interval = 1e9 / rate
        let tolerance = Int64(s.pointee.burst * interval)
        let window = UInt64(max(1, (rate + s.pointee.burst).rounded(.down)))
        let paced = max(now, s.pointee.theoretical_ns - tolerance)
        var start = max(paced, s.pointee.last_ns)

        // The recipient `window` places before this message's last one (or
        // before its first, for a message larger than a window) must be more
        // than a second old.
        let first = s.pointee.count
        let last = first + UInt64(min(UInt64(count), window)) - 1
        if last >= window {
            let older = ring[Int((last - window) % UInt64(HW_RATE_RING))]
            start = max(start, older + 1_000_000_000 + Self.windowGuard)
        }

        for index in 0..<UInt64(count) {
            ring[Int((first + index) % UInt64(HW_RATE_RING))] = start
        }
        s.pointee.count = first + UInt64(count)
        // Pacing advances from its own schedule, not from a start the window
        // pushed back, so that the two rules do not add up their delays.
        s.pointee.theoretical_ns =
            max(s.pointee.theoretical_ns, paced) + Int64(Double(count) * interval)
        s.pointee.last_ns = start
        if start > now { s.pointee.waits += 1 }
        return start
    }

    /// This process's PID, read once: `getpid()` on every lock is half its cost.
    private let pid = getpid()

    /// Takes the semaphore, freeing it first if its holder died.
    private func lock() {
        if sem_trywait(semaphore) == 0 {
            hw_rate_set_holder(segment, pid)
            return
        }
        while true {
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_sec += 1
            if sem_timedwait(semaphore, &deadline) == 0 { break }
            if errno == ETIMEDOUT { repairIfHolderDied() }
            // EINTR: try again.
        }
        hw_rate_set_holder(segment, pid)
    }

    private func unlock() {
        hw_rate_set_holder(segment, 0)
        sem_post(semaphore)
    }

    /// Releases the semaphore when its recorded holder is no longer alive.
    ///
    /// - Returns: Whether the lock was repaired.
    @discardableResult
    public func repairIfHolderDied() -> Bool {
        let holder = hw_rate_get_holder(segment)
        guard holder > 0, kill(holder, 0) != 0, errno == ESRCH else { return false }
        return release(heldBy: holder)
    }

    /// Releases the semaphore if `pid` holds it; the master calls this after reaping a worker.
    ///
    /// Only one caller wins the exchange of the holder field, so the semaphore is posted once.
    ///
    /// - Parameter pid: The process that died.
    /// - Returns: Whether `pid` held the lock and it was released.
    @discardableResult
    public func release(heldBy pid: Int32) -> Bool {
        guard hw_rate_clear_holder(segment, pid) != 0 else { return false }
        // The holder may have died between reserving and recording; be conservative
        // and let the next reservation start no earlier than now.
        segment.pointee.last_ns = max(segment.pointee.last_ns, Monotonic.now())
        sem_post(semaphore)
        return true
    }
}

/// Reading `CLOCK_MONOTONIC`, the clock every process of a server shares.
public enum Monotonic {
    /// The current monotonic time in nanoseconds.
    public static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}

/// Reading `CLOCK_REALTIME`, for timestamps other hosts and tools read.
public enum WallClock {
    /// Microseconds since the epoch.
    public static func microseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1_000
    }
}

/// A failure to create or attach to the rate segment.
public enum RateError: Error, Sendable, CustomStringConvertible {
    /// A system call failed.
    case system(call: String, name: String, errno: Int32)
    /// The object exists but is not a segment of this version.
    case invalidSegment(name: String, reason: String)

    /// A one-line description naming the call and the object.
    public var description: String {
        switch self {
        case .system(let call, let name, let code):
            return "\(call)(\(name)) failed: \(String(cString: strerror(code)))"
        case .invalidSegment(let name, let reason):
            return "shared-memory segment \(name) is not usable: \(reason)"
        }
    }
}

// Enqueue measurements through the producer library, `MailQueue`, as an
// application would use it: every job is validated and encoded on the way.
//
// Each job carries a 1 KB plain-text body and one recipient. Only the
// library calls are timed; building the `Job` values for a bulk enqueue is
// the application's work and happens before the clock starts.

import Glibc
import HworkerQueue
import HworkerRate
import HworkerRedis

/// The enqueue modes of hworker-bench.
enum EnqueueBench {
    /// A 1 KB plain-text body: 16 lines of 64 bytes, newlines included.
    static let body: String = {
        let line = "Your weekly summary is ready; this line pads the benchmark body"
        return (0..<16).map { index in
            let number = String(index)
            return String(line.dropLast(number.count)) + number + "\n"
        }.joined()
    }()

    /// The email of job `index`.
    static func email(_ index: Int) -> EmailMessage {
        EmailMessage(to: ["user\(index)@example.com"], subject: "Benchmark", text: body)
    }

    /// Enqueues `--count` jobs one at a time and prints the time taken.
    ///
    /// - Throws: `BenchError.usage` or `EnqueueError`.
    static func single(_ options: BenchArguments) throws {
        let queue = try MailQueue(name: options.text("queue"), redis: options.redis())
        let count = try options.integer("count")
        let prefix = try options.text("prefix", default: "single-")
        let started = Monotonic.now()
        for index in 0..<count {
            try queue.enqueue(email(index), id: prefix + String(index))
        }
        let elapsed = Monotonic.now() - started
        print("jobs=\(count) elapsed_ns=\(elapsed)")
    }

    /// Enqueues `--count` jobs in one call (pipelined LPUSHes) and prints the time taken.
    ///
    /// - Throws: `BenchError.usage` or `EnqueueError`.
    static func bulk(_ options: BenchArguments) throws {
        let queue = try MailQueue(name: options.text("queue"), redis: options.redis())
        let count = try options.integer("count")
        let prefix = try options.text("prefix", default: "bulk-")
        let jobs = (0..<count).map { Job(id: prefix + String($0), email: email($0)) }
        let started = Monotonic.now()
        try queue.enqueue(jobs)
        let elapsed = Monotonic.now() - started
        print("jobs=\(count) elapsed_ns=\(elapsed)")
    }

    /// Enqueues one job every `--interval-ms`, each with its enqueue time as payload.
    ///
    /// The payload is the wall clock in microseconds since the epoch, read just before
    /// the job is validated and pushed; the daemon's `sent` events carry `started_us` on
    /// the same clock, so their difference is the latency up to the start of the send.
    ///
    /// - Throws: `BenchError.usage` or `EnqueueError`.
    static func latency(_ options: BenchArguments) throws {
        let queue = try MailQueue(name: options.text("queue"), redis: options.redis())
        let count = try options.integer("count")
        let interval = Int64(try options.integer("interval-ms")) * 1_000_000
        let prefix = try options.text("prefix", default: "latency-")
        let first = Monotonic.now() + interval
        for index in 0..<count {
            sleep(until: first + Int64(index) * interval)
            let payload = String(WallClock.microseconds())
            try queue.enqueue(email(index), payload: payload, id: prefix + String(index))
        }
        print("jobs=\(count)")
    }

    /// Sleeps until the monotonic time `deadline` (ns).
    static func sleep(until deadline: Int64) {
        var target = timespec(
            tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        // EINTR: sleep again towards the same absolute deadline.
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, nil) == EINTR {}
    }
}

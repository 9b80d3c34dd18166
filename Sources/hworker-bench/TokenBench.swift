// The cost of one token reservation in the shared-memory rate segment.
//
// The segment is created with a rate so high (10^9 recipients per second)
// that no reservation is ever due in the future, so what is timed is the
// semaphore, the clock reads and the arithmetic of `RateSegment.reserve`
// alone; `reserve` returns a due time and never sleeps. Uncontended, this
// process reserves alone. Contended, it starts `--processes` copies of
// itself (`token-child`), which attach to the same segment by name, wait for
// a common start time and reserve as fast as they can; each reports its own
// start and end on a shared pipe (one short line, written atomically).

import Glibc
import HworkerRate

/// The token-cost modes of hworker-bench.
enum TokenBench {
    /// A rate no reservation ever has to wait for.
    static let unlimitedRate = 1e9

    /// Measures reservations alone, then with `--processes` contending processes.
    ///
    /// Prints `uncontended_ns` (per reservation), then for the contended run the total
    /// reservations, the wall time from the first child's start to the last one's end,
    /// and the mean time one call took inside a child.
    ///
    /// - Throws: `BenchError` or `RateError`.
    static func run(_ options: BenchArguments) throws {
        let count = try options.integer("count", default: 2_000_000)
        let processes = try options.integer("processes", default: 8)
        let name = "/hworker-bench.\(getpid())"
        let segment = try RateSegment.create(name: name, rate: unlimitedRate, burst: 0)
        defer { segment.unlink() }

        let alone = reserveMany(segment, count: count)
        print("uncontended_ns=\(Double(alone) / Double(count)) reservations=\(count)")

        guard processes > 0 else { return }
        let perChild = count / processes
        let runs = try contended(name: name, processes: processes, count: perChild)
        let start = runs.map(\.start).min() ?? 0
        let end = runs.map(\.end).max() ?? 0
        let childNanoseconds = runs.map { Double($0.end - $0.start) }.reduce(0, +)
        let meanCall = childNanoseconds / Double(perChild * runs.count)
        print(
            "processes=\(processes) reservations=\(perChild * processes) wall_ns=\(end - start)"
                + " mean_call_ns=\(meanCall) reserved_total=\(segment.reservedCount)")
    }

    /// One contending copy: attaches, waits for the common start, reserves, reports.
    ///
    /// - Throws: `BenchError` or `RateError`.
    static func child(_ options: BenchArguments) throws {
        let segment = try RateSegment.attach(name: options.text("name"))
        let count = try options.integer("count")
        let startAt = Int64(try options.integer("start-ns"))
        EnqueueBench.sleep(until: startAt)
        let start = Monotonic.now()
        _ = reserveMany(segment, count: count)
        let end = Monotonic.now()
        print("start_ns=\(start) end_ns=\(end)")
    }

    /// Reserves one recipient `count` times and returns the nanoseconds it took.
    static func reserveMany(_ segment: RateSegment, count: Int) -> Int64 {
        var latest: Int64 = 0
        let started = Monotonic.now()
        for _ in 0..<count {
            latest = max(latest, segment.reserve(recipients: 1))
        }
        let elapsed = Monotonic.now() - started
        // Keeps the due times observable, so the loop cannot be optimized away.
        if latest == .min { print("unreachable") }
        return elapsed
    }

    /// Starts the copies, waits for all of them and returns each one's start and end.
    private static func contended(
        name: String, processes: Int, count: Int
    ) throws -> [(start: Int64, end: Int64)] {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw BenchError.system(call: "pipe", errno: errno) }
        // The children need time to start before the common start; 300 ms is plenty even
        // on a busy machine, and a late child only makes the run less contended.
        let startAt = Monotonic.now() + 300_000_000
        var children: [pid_t] = []
        for _ in 0..<processes {
            let arguments = [
                "token-child", "--name", name, "--count", String(count), "--start-ns",
                String(startAt),
            ]
            children.append(try spawnSelf(arguments, stdout: ends[1], closing: ends[0]))
        }
        close(ends[1])
        let output = readAll(ends[0])
        close(ends[0])
        for child in children {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0, errno == EINTR {}
        }
        let runs = output.split(separator: "\n").compactMap(parseRun)
        guard runs.count == processes else {
            throw BenchError.child("\(runs.count) of \(processes) children reported")
        }
        return runs
    }

    /// Parses `start_ns=A end_ns=B`.
    private static func parseRun(_ line: Substring) -> (start: Int64, end: Int64)? {
        var fields: [Substring: Int64] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Int64(parts[1]) { fields[parts[0]] = value }
        }
        guard let start = fields["start_ns"], let end = fields["end_ns"] else { return nil }
        return (start, end)
    }

    /// Starts this executable with `arguments`, its standard output on `stdout`.
    private static func spawnSelf(
        _ arguments: [String], stdout: Int32, closing unused: Int32
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_addclose(&actions, unused)
        let path = executablePath()
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard code == 0 else { throw BenchError.system(call: "posix_spawn", errno: code) }
        return pid
    }

    /// The path of this executable, from `/proc/self/exe`.
    private static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
        guard length > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Reads `fd` to its end.
    private static func readAll(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes += chunk[0..<count]
            } else if count < 0, errno == EINTR {
                continue
            } else {
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

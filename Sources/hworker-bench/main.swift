// hworker-bench: the measurements of `scripts/bench` that need the Swift
// library itself rather than the daemon.
//
// `scripts/bench.py` runs this tool once per measurement and turns what it
// prints into figures. Each mode prints `key=value` fields on one line, raw
// counts and nanoseconds, never rates: the script owns the names and units
// of the figures. Modes:
//
//   enqueue-single  jobs pushed one at a time with `MailQueue.enqueue(_:payload:id:)`
//   enqueue-bulk    jobs pushed in one pipelined `MailQueue.enqueue(_:)` call
//   latency         one job every `--interval-ms`, its enqueue time (µs since the
//                   epoch) as payload, for the idle-latency scenario
//   token           reservations in a `RateSegment` whose rate never makes them
//                   wait, alone and with `--processes` copies of this tool
//   token-child     one of those copies (started by `token`, not by hand)
//
// This is a benchmark, not a product: it is built with the package but not
// installed, and nothing in the daemon depends on it.

import Glibc

/// The modes and what each needs, for `--help` and usage errors.
let usage = """
    usage: hworker-bench MODE [--key value ...]

      enqueue-single --redis HOST:PORT --queue NAME --count N [--prefix ID]
      enqueue-bulk   --redis HOST:PORT --queue NAME --count N [--prefix ID]
      latency        --redis HOST:PORT --queue NAME --count N --interval-ms MS
      token          --count N [--processes P]
      token-child    --name SEGMENT --count N --start-ns T

    """

/// Runs one mode and returns the process's exit code.
func runMode(_ arguments: [String]) -> Int32 {
    guard let mode = arguments.first else {
        printError(usage)
        return 2
    }
    do {
        let options = try BenchArguments(Array(arguments.dropFirst()))
        switch mode {
        case "enqueue-single": try EnqueueBench.single(options)
        case "enqueue-bulk": try EnqueueBench.bulk(options)
        case "latency": try EnqueueBench.latency(options)
        case "token": try TokenBench.run(options)
        case "token-child": try TokenBench.child(options)
        case "--help", "help":
            print(usage, terminator: "")
        default:
            throw BenchError.usage("unknown mode \"\(mode)\"")
        }
        return 0
    } catch let error as BenchError {
        printError("hworker-bench: \(error)\n")
        if case .usage = error { printError(usage) }
        return 2
    } catch {
        printError("hworker-bench: \(error)\n")
        return 1
    }
}

/// Writes `text` to standard error.
func printError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

exit(runMode(Array(CommandLine.arguments.dropFirst())))

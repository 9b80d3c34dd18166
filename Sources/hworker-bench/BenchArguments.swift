// The `--key value` options of hworker-bench and the errors it reports.

import HworkerRedis

/// What went wrong in a benchmark run.
enum BenchError: Error, CustomStringConvertible {
    /// The command line is wrong.
    case usage(String)
    /// A system call failed; `errno` was read right after it.
    case system(call: String, errno: Int32)
    /// A child process did not report what it measured.
    case child(String)

    var description: String {
        switch self {
        case .usage(let message): return message
        case .system(let call, let code): return "\(call) failed: errno \(code)"
        case .child(let message): return message
        }
    }
}

/// Options given as `--key value` pairs.
struct BenchArguments {
    private var values: [String: String] = [:]

    /// Reads `--key value` pairs.
    ///
    /// - Throws: `BenchError.usage` for a key without a value or a word that is not a key.
    init(_ arguments: [String]) throws {
        var index = 0
        while index < arguments.count {
            let key = arguments[index]
            guard key.hasPrefix("--"), index + 1 < arguments.count else {
                throw BenchError.usage("expected --key value, got \"\(key)\"")
            }
            values[String(key.dropFirst(2))] = arguments[index + 1]
            index += 2
        }
    }

    /// The text of `--key`, or `fallback` when it is absent.
    ///
    /// - Throws: `BenchError.usage` when the key is required and absent.
    func text(_ key: String, default fallback: String? = nil) throws -> String {
        guard let value = values[key] ?? fallback else {
            throw BenchError.usage("missing --\(key)")
        }
        return value
    }

    /// The whole number given as `--key`, or `fallback`.
    ///
    /// - Throws: `BenchError.usage` when it is absent and required, or not a number.
    func integer(_ key: String, default fallback: Int? = nil) throws -> Int {
        let value = try text(key, default: fallback.map(String.init))
        guard let number = Int(value), number >= 0 else {
            throw BenchError.usage("--\(key): expected a whole number, got \"\(value)\"")
        }
        return number
    }

    /// The Redis server given as `--redis HOST:PORT`.
    ///
    /// - Throws: `BenchError.usage` when it is absent or not an address.
    func redis() throws -> RedisOptions {
        let value = try text("redis")
        guard let address = RedisOptions.Address.parse(value) else {
            throw BenchError.usage("--redis: not an address: \"\(value)\"")
        }
        return RedisOptions(address: address, commandTimeout: 30)
    }
}

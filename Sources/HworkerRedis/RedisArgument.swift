/// One argument of a Redis command: bytes, which may be binary.
public struct RedisArgument: Sendable, ExpressibleByStringLiteral, Hashable {
    /// The argument's bytes as sent.
    public var bytes: [UInt8]

    /// Creates an argument from raw bytes.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Creates an argument from UTF-8 text.
    public init(_ text: String) {
        bytes = Array(text.utf8)
    }

    /// Creates an argument from a literal.
    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// Creates an argument from an integer, in decimal.
    public init(_ value: Int) {
        self.init(String(value))
    }
}

extension Array where Element == RedisArgument {
    /// Calls `body` with hiredis's `argc`, `argv` and `argvlen` for these arguments.
    ///
    /// The argument bytes stay in place for the call's duration; only the
    /// pointer and length tables are allocated.
    func withArgv<R>(
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        let argv = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(
            capacity: Swift.max(1, count))
        let lengths = UnsafeMutablePointer<Int>.allocate(capacity: Swift.max(1, count))
        defer {
            argv.deallocate()
            lengths.deallocate()
        }
        return withPointers(from: startIndex, argv: argv, lengths: lengths) {
            body(Int32(count), argv, lengths)
        }
    }

    /// Fills the tables from `index` on, keeping each argument's bytes pinned
    /// by nesting, then runs `body`.
    private func withPointers<R>(
        from index: Int, argv: UnsafeMutablePointer<UnsafePointer<CChar>?>,
        lengths: UnsafeMutablePointer<Int>, _ body: () -> R
    ) -> R {
        guard index < endIndex else { return body() }
        return self[index].bytes.withUnsafeBufferPointer { buffer in
            argv[index] = buffer.baseAddress.map {
                UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)
            }
            lengths[index] = buffer.count
            return withPointers(from: index + 1, argv: argv, lengths: lengths, body)
        }
    }
}

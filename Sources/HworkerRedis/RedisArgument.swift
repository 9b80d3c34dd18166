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
    /// All bytes live in one buffer for the call's duration; nothing is copied per argument.
    func withArgv<R>(
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        var flat: [UInt8] = []
        flat.reserveCapacity(reduce(0) { $0 + $1.bytes.count } + 1)
        var offsets: [Int] = []
        var lengths: [Int] = []
        offsets.reserveCapacity(count)
        lengths.reserveCapacity(count)
        for argument in self {
            offsets.append(flat.count)
            lengths.append(argument.bytes.count)
            flat.append(contentsOf: argument.bytes)
        }
        // hiredis never dereferences a zero-length argument, but the base must be valid.
        flat.append(0)
        // The buffers below are never empty (the terminator, and one entry per
        // argument of a command, which always has a name), so their base exists.
        return flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { pointers in
                lengths.withUnsafeBufferPointer {
                    body(Int32(count), pointers.baseAddress!, $0.baseAddress!)
                }
            }
        }
    }
}

// This machine's host name, as it appears in worker ids (`host:masterPID:slot.gen`).

import Glibc

/// The machine the process runs on.
enum LocalHost {
    /// The host name from gethostname(2).
    static var name: String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        return String(
            decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

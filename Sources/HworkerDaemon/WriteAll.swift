import Glibc

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
///
/// - Parameters:
///   - fd: The descriptor.
///   - bytes: What to write.
/// - Returns: false when the write failed (the descriptor is closed or full).
@discardableResult
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { buffer in
        guard let base = buffer.baseAddress else { return true }
        var offset = 0
        while offset < buffer.count {
            let written = write(fd, base + offset, buffer.count - offset)
            if written < 0, errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }
}

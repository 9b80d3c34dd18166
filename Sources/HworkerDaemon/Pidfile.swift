// The master's pidfile: created exclusively, so that a second master for the
// same file refuses to start; a file naming a dead process is stale and is
// replaced.

import Glibc

/// A pidfile held by the running master.
final class Pidfile {
    let path: String

    /// Creates the pidfile, replacing a stale one.
    ///
    /// - Parameter path: The file.
    /// - Throws: `PidfileError.running` when a live process holds it, or `.system`.
    init(path: String) throws(PidfileError) {
        self.path = path
        for _ in 0..<3 {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 {
                writeAll(fd, Array("\(getpid())\n".utf8))
                close(fd)
                return
            }
            guard errno == EEXIST else { throw .system(SystemError(call: "open \(path)")) }
            if let holder = Self.readPID(path), holder != getpid(),
                kill(holder, 0) == 0 || errno == EPERM
            {
                throw .running(path: path, pid: holder)
            }
            unlink(path)
        }
        throw .system(SystemError(call: "open \(path)", code: EEXIST))
    }

    /// Removes the file if it still names this process.
    func remove() {
        if Self.readPID(path) == getpid() { unlink(path) }
    }

    static func readPID(_ path: String) -> pid_t? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self).trimmingWhitespace()
        return pid_t(text.split(separator: "\n").first.map(String.init) ?? "")
    }
}

/// Why the pidfile could not be taken.
enum PidfileError: Error, CustomStringConvertible {
    /// Another live master holds it.
    case running(path: String, pid: pid_t)
    /// A system call failed.
    case system(SystemError)

    var description: String {
        switch self {
        case .running(let path, let pid): return "another master (PID \(pid)) holds \(path)"
        case .system(let error): return error.description
        }
    }
}

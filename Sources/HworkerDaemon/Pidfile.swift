// The master's pidfile, held with an exclusive flock(2) for the master's
// whole life.
//
// The lock, not the PID written in the file, says whether a master runs: the
// kernel drops it when the master exits, however it dies, so a file left by
// a dead master is stale whatever process now has its PID (after a reboot,
// a pidfile kept on disk names an unrelated process), and two masters that
// start at once cannot both win. The PID inside is for operators and for the
// refusal message. The descriptor is close-on-exec: children never hold the
// lock.
//
// Removal unlinks the file while still holding the lock; a master that
// opened the old file meanwhile finds, once it gets the lock, that the path
// no longer names what it locked, and starts over.

import Glibc

/// A pidfile held by the running master.
final class Pidfile {
    let path: String
    private let fd: Int32

    /// Takes the pidfile: locks it, replacing whatever a dead master left, and writes this
    /// process's PID.
    ///
    /// - Parameter path: The file.
    /// - Throws: `PidfileError.running` when a live master holds it, or `.system` naming the
    ///   call that failed.
    init(path: String) throws(PidfileError) {
        self.path = path
        for _ in 0..<10 {
            let candidate = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard candidate >= 0 else { throw .system(SystemError(call: "open \(path)")) }
            guard Self.lock(candidate) else {
                let error = errno
                close(candidate)
                if error == EWOULDBLOCK { throw .running(path: path, pid: Self.readPID(path)) }
                throw .system(SystemError(call: "flock \(path)", code: error))
            }
            // The holder may have unlinked the file between our open and our lock.
            guard Self.isStillAt(path, candidate) else {
                close(candidate)
                continue
            }
            let text = Array("\(getpid())\n".utf8)
            guard ftruncate(candidate, 0) == 0, pwrite(candidate, text, text.count, 0) == text.count
            else {
                let error = SystemError(call: "write \(path)")
                close(candidate)
                throw .system(error)
            }
            fd = candidate
            return
        }
        throw .system(SystemError(call: "open \(path)", code: EAGAIN))
    }

    deinit {
        close(fd)
    }

    /// Removes the file while still holding its lock; the lock goes when the master exits.
    func remove() {
        if Self.isStillAt(path, fd) { unlink(path) }
    }

    /// The PID written in a pidfile, if it holds one.
    ///
    /// - Parameter path: The file.
    /// - Returns: The PID, or nil when the file is missing, empty or not a number.
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

    /// Takes the exclusive lock without waiting, retrying EINTR.
    private static func lock(_ fd: Int32) -> Bool {
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }

    /// Whether `path` still names the file open on `fd`.
    private static func isStillAt(_ path: String, _ fd: Int32) -> Bool {
        var opened = stat()
        var named = stat()
        guard fstat(fd, &opened) == 0, stat(path, &named) == 0 else { return false }
        return opened.st_dev == named.st_dev && opened.st_ino == named.st_ino
    }
}

/// Why the pidfile could not be taken.
enum PidfileError: Error, CustomStringConvertible {
    /// Another live master holds it; its PID when the file already says it.
    case running(path: String, pid: pid_t?)
    /// A system call failed.
    case system(SystemError)

    var description: String {
        switch self {
        case .running(let path, let pid?): return "another master (PID \(pid)) holds \(path)"
        case .running(let path, nil): return "another master holds \(path)"
        case .system(let error): return error.description
        }
    }
}

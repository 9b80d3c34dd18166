// Finding rate segments left behind by masters that were SIGKILLed.
//
// Segment names carry the master's PID (`/hworker-ses.<queue>.<pid>`). A
// segment is stale, and is removed with its semaphore, when no process has
// that PID here and no master claims it: each master holds a shared flock(2)
// on its own segment for its whole life, which the kernel drops when the
// master dies. The PID alone is not enough where masters share /dev/shm but
// not PID numbers (containers of one pod, each in its own PID namespace): a
// live master whose PID another cannot see would lose its segment, and its
// next workers could not start.

import Glibc

/// Names and cleans up rate segments.
enum SharedMemoryJanitor {
    /// The segment name of the master with `pid` for `queue`.
    static func segmentName(queue: String, pid: pid_t) -> String {
        "/hworker-ses.\(queue).\(pid)"
    }

    /// Removes segments and semaphores of masters that no longer run.
    ///
    /// - Returns: The names removed.
    static func removeStale() -> [String] {
        guard let directory = opendir("/dev/shm") else { return [] }
        defer { closedir(directory) }
        var removed: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            let isSemaphore = name.hasPrefix("sem.hworker-ses.")
            guard name.hasPrefix("hworker-ses.") || isSemaphore,
                let pid = name.split(separator: ".").last.flatMap({ pid_t($0) }), pid > 0,
                kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            let objectName = "/" + (isSemaphore ? String(name.dropFirst(4)) : name)
            guard !isClaimed(objectName) else { continue }
            if isSemaphore { sem_unlink(objectName) } else { shm_unlink(objectName) }
            removed.append(name)
        }
        return removed
    }

    /// Claims a master's own segment until the returned claim is released.
    ///
    /// - Parameter name: The segment the master created.
    /// - Returns: The claim, or nil when the segment cannot be opened or locked (it then
    ///   relies on its PID alone, as before claims existed).
    static func claim(_ name: String) -> SegmentClaim? {
        let fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0)
        guard fd >= 0 else { return nil }
        while flock(fd, LOCK_SH | LOCK_NB) != 0 {
            if errno != EINTR {
                close(fd)
                return nil
            }
        }
        return SegmentClaim(fd: fd)
    }

    /// Whether a live master holds its claim on segment `name`.
    private static func isClaimed(_ name: String) -> Bool {
        let fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno != EINTR { return errno == EWOULDBLOCK }
        }
        return false
    }
}

/// A master's claim on its own segment: a shared lock held until the master exits.
///
/// The descriptor is close-on-exec, so children never hold the claim.
final class SegmentClaim {
    private let fd: Int32

    fileprivate init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        close(fd)
    }
}

extension SharedMemoryJanitor {
    /// The PID and segment name of a live master of `queue` on this server, if any,
    /// among `masters` (PIDs).
    static func liveSegment(queue: String, masters: Set<Int>) -> (pid_t, String)? {
        guard let directory = opendir("/dev/shm") else { return nil }
        defer { closedir(directory) }
        let prefix = "hworker-ses.\(queue)."
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix(prefix), let pid = pid_t(name.dropFirst(prefix.count)), pid > 0,
                masters.contains(Int(pid)), kill(pid, 0) == 0 || errno == EPERM
            else { continue }
            return (pid, "/" + name)
        }
        return nil
    }
}

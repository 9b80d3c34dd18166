// Finding rate segments left behind by masters that were SIGKILLed.
//
// Segment names carry the master's PID (`/hworker-ses.<queue>.<pid>`); a
// segment whose master is gone is stale and is removed, with its semaphore.

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
            if isSemaphore { sem_unlink(objectName) } else { shm_unlink(objectName) }
            removed.append(name)
        }
        return removed
    }
}

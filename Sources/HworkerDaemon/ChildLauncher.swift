// Starting children by posix_spawn of the daemon's own binary.
//
// A forked Swift process must not go on running Swift code (libdispatch and
// the runtime are not fork-safe), so children are new executions of the same
// binary with a role argument. The spawn gives them the signal mask the
// master blocks (so a TERM that arrives while a child boots stays pending
// until its signalfd reads it) and default dispositions for every signal.

import CSupport
import Glibc

/// A started child and the master's ends of its pipes.
struct LaunchedChild {
    /// The child's PID.
    var pid: pid_t
    /// The master's end of the handoff pipe; closing it tells the child the master is gone.
    var handoffFD: Int32
    /// The master's end of the status pipe.
    var statusFD: Int32
}

/// Starts children.
enum ChildLauncher {
    /// The signals children start with blocked, to be read from their signalfd.
    static let childSignals: [Int32] = [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1]

    /// Spawns `hworker-ses child <role>` and writes its handoff.
    ///
    /// - Parameter handoff: The child's instructions.
    /// - Returns: The child and the master's pipe ends.
    /// - Throws: `SystemError` naming the call that failed.
    static func launch(_ handoff: ChildHandoff) throws(SystemError) -> LaunchedChild {
        let handoffPipe = try makePipe()
        let statusPipe: (read: Int32, write: Int32)
        do {
            statusPipe = try makePipe()
        } catch {
            close(handoffPipe.read)
            close(handoffPipe.write)
            throw error
        }
        defer {
            close(handoffPipe.read)
            close(statusPipe.write)
        }
        let pid: pid_t
        do {
            pid = try spawn(
                role: handoff.role, handoffFD: handoffPipe.read, statusFD: statusPipe.write)
        } catch {
            close(handoffPipe.write)
            close(statusPipe.read)
            throw error
        }
        // The line is far below the pipe's capacity, so this write never blocks.
        writeAll(handoffPipe.write, handoff.encodedLine())
        // Later lines (logging settings after a reload) must never block the master on a
        // child that does not read; each is shorter than PIPE_BUF, so it is written whole
        // or not at all.
        _ = fcntl(handoffPipe.write, F_SETFL, O_NONBLOCK)
        return LaunchedChild(pid: pid, handoffFD: handoffPipe.write, statusFD: statusPipe.read)
    }

    private static func spawn(role: ChildRole, handoffFD: Int32, statusFD: Int32)
        throws(SystemError) -> pid_t
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, handoffFD, ChildDescriptor.handoff)
        posix_spawn_file_actions_adddup2(&actions, statusFD, ChildDescriptor.status)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        for signal in childSignals { sigaddset(&mask, signal) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let executable = selfExecutable()
        let arguments = [executable, "child", role.rawValue]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        // Children get the environment without AWS secrets: the master resolved the
        // credentials and hands them over the handoff pipe.
        var environment = childEnvironment().map { strdup($0) } + [nil]
        defer { environment.forEach { free($0) } }
        let code = posix_spawn(&pid, executable, &actions, &attributes, &argv, &environment)
        guard code == 0 else { throw SystemError(call: "posix_spawn", code: code) }
        return pid
    }

    /// Variables that carry secrets, kept from children.
    static let secretVariables: Set<String> = [
        "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    ]

    /// This process's environment without `secretVariables`, as `NAME=value` strings.
    static func childEnvironment() -> [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            let name = text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? text
            if !secretVariables.contains(name) { result.append(text) }
            pointer += 1
        }
        return result
    }

    private static func makePipe() throws(SystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard hw_pipe_cloexec(&fds) == 0 else { throw SystemError(call: "pipe2") }
        return (fds[0], fds[1])
    }

    /// The path of the running binary.
    static func selfExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

// Signals as readable events, through signalfd.
//
// The signals a process handles are blocked (in the master before any thread
// exists; in a child from the moment it is spawned, through the spawn's
// signal mask) and read from a signalfd by the process's event loop. No code
// runs in a signal handler, and the kernel keeps one pending flag per signal,
// so nothing is lost while the loop is busy.

import CSupport
import Glibc

/// The signals of a process, read from a signalfd.
public final class SignalReceiver {
    /// The descriptor to `poll`.
    public let fileDescriptor: Int32

    /// Blocks `signals` and opens a signalfd for them.
    ///
    /// - Parameter signals: The signals to receive as events.
    /// - Throws: `SystemError` naming the call that failed.
    public init(signals: [Int32]) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        guard sigprocmask(SIG_BLOCK, &set, nil) == 0 else { throw SystemError(call: "sigprocmask") }
        let fd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        guard fd >= 0 else { throw SystemError(call: "signalfd") }
        fileDescriptor = fd
    }

    deinit {
        close(fileDescriptor)
    }

    /// Reads every signal that arrived since the last call.
    ///
    /// - Returns: The signal numbers, in arrival order; empty when none is pending.
    public func drain() -> [Int32] {
        var result: [Int32] = []
        var info = signalfd_siginfo()
        while true {
            let count = read(fileDescriptor, &info, MemoryLayout<signalfd_siginfo>.size)
            if count < 0, errno == EINTR { continue }
            guard count == MemoryLayout<signalfd_siginfo>.size else { break }
            result.append(Int32(info.ssi_signo))
        }
        return result
    }

    /// The name of a signal, such as `TERM`, for logs.
    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: return "TERM"
        case SIGINT: return "INT"
        case SIGQUIT: return "QUIT"
        case SIGHUP: return "HUP"
        case SIGCHLD: return "CHLD"
        case SIGKILL: return "KILL"
        case SIGUSR1: return "USR1"
        case SIGUSR2: return "USR2"
        case SIGTTIN: return "TTIN"
        case SIGTTOU: return "TTOU"
        case SIGSEGV: return "SEGV"
        case SIGABRT: return "ABRT"
        case SIGBUS: return "BUS"
        case SIGILL: return "ILL"
        case SIGPIPE: return "PIPE"
        default: return String(signal)
        }
    }
}

/// A failed system call and its errno, read at once.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    /// The call that failed.
    public var call: String
    /// The errno it left.
    public var code: Int32

    /// Records the current errno for `call`.
    public init(call: String) {
        self.call = call
        code = errno
    }

    /// Records an error code returned directly, as `posix_spawn` does.
    public init(call: String, code: Int32) {
        self.call = call
        self.code = code
    }

    /// `call: reason`.
    public var description: String { "\(call): \(String(cString: strerror(code)))" }
}

// What every child process shares: reading the handoff, the logger, its
// signals, the watch on its master, and waiting for any of them.
//
// TERM and INT ask for a drain (finish the job in hand, take nothing new);
// QUIT asks to terminate (give the job in hand back at once). The end of the
// handoff pipe, or the parent-death signal, means the master died: the child
// drains itself, and since nobody is left to enforce the drain deadline, it
// terminates itself when `drain_deadline` has passed (a job it cannot
// finish stays in flight in Redis, for a monitor). After the handoff, the
// master writes a line on that pipe for each accepted reload: the logging
// settings, applied at once.

import CSupport
import FoundationEssentials
import Glibc
import HworkerRate

/// How a child has been asked to stop.
enum StopRequest: Equatable {
    /// Finish the job in hand, take nothing new.
    case drain
    /// Return the job in hand to the queue and exit now.
    case terminate
}

/// What ended a wait.
enum WaitResult {
    /// The descriptor waited on became readable.
    case readable
    /// The deadline passed.
    case deadline
    /// A stop request the caller cares about arrived.
    case stopped
}

/// The event loop support of one child.
final class ChildRuntime {
    let handoff: ChildHandoff
    let logger: Logger
    private let signals: SignalReceiver
    private(set) var stopRequest: StopRequest?
    private var masterGone = false
    /// When the master is gone, the time (CLOCK_MONOTONIC ns) at which this child stops
    /// draining and terminates.
    private var orphanDeadline: Int64?
    /// Bytes read from the handoff pipe that do not yet end a line.
    private var pendingInput: [UInt8] = []
    /// Status lines not written yet (see `reportLater(_:)`).
    private var pendingReports: [UInt8] = []

    /// Reads the handoff from standard input and sets up signals and logging.
    init() throws(SystemError) {
        // Writes to a closed log pipe or a socket Redis closed must fail with EPIPE
        // rather than kill the child; the spawn reset every disposition to default.
        signal(SIGPIPE, SIG_IGN)
        // The parent-death signal is TERM: a drain, like the pipe's end.
        _ = hw_set_parent_death_signal(SIGTERM)
        // A write to the status pipe of a dead master must fail, not kill us.
        signal(SIGPIPE, SIG_IGN)
        signals = try SignalReceiver(signals: ChildLauncher.childSignals)
        guard let line = Self.readLine(fd: ChildDescriptor.handoff),
            let decoded = try? JSONDecoder().decode(ChildHandoff.self, from: Data(line))
        else { throw SystemError(call: "read handoff", code: EINVAL) }
        handoff = decoded
        let config = decoded.config
        logger = Logger(
            level: config.logLevel, format: config.logFormat, path: config.logFile,
            context: [
                ("role", decoded.role.rawValue), ("slot", String(decoded.slot)),
                ("gen", String(decoded.generation)), ("pid", String(getpid())),
            ])
        // A master that died before we set the death signal is caught here.
        if getppid() != decoded.masterPID { noticeMasterGone() }
    }

    /// Tells the master that this child is ready.
    func reportReady() {
        report("ready")
    }

    /// Sends one line of the status protocol to the master (see `ChildDescriptor.status`).
    ///
    /// A line is far below PIPE_BUF, so it arrives whole; when the master is gone the
    /// write fails with EPIPE (SIGPIPE is ignored) and is dropped.
    func report(_ line: String) {
        reportLater(line)
        flushReports()
    }

    /// Queues a status line; it goes out with the next `flushReports()`, which every
    /// wait and every `report(_:)` does, so that the lines of several jobs cost one write.
    func reportLater(_ line: String) {
        pendingReports.append(contentsOf: line.utf8)
        pendingReports.append(0x0A)
    }

    /// Writes the queued status lines and log lines.
    ///
    /// Status lines of one flush stay far below the pipe's capacity per job, and the
    /// master reads whole lines, so a flush that the pipe splits is still read right.
    func flushReports() {
        logger.flush()
        guard !pendingReports.isEmpty else { return }
        writeAll(ChildDescriptor.status, pendingReports)
        pendingReports.removeAll(keepingCapacity: true)
    }

    /// Waits until `deadline` (CLOCK_MONOTONIC ns), `fd` becoming readable, or
    /// one of the stop requests in `interruptions`.
    ///
    /// - Parameters:
    ///   - deadline: When to stop waiting; nil waits for an event.
    ///   - fd: Another descriptor to wait on, such as a Redis socket.
    ///   - interruptions: The stop requests that end the wait.
    /// - Returns: What ended the wait.
    @discardableResult
    func wait(
        until deadline: Int64?, orReadable fd: Int32? = nil,
        interruptedBy interruptions: Set<StopRequest> = [.drain, .terminate]
    ) -> WaitResult {
        flushReports()
        while true {
            terminateIfOrphanedTooLong()
            if let stopRequest, interruptions.contains(stopRequest) { return .stopped }
            let timeout = milliseconds(until: deadline)
            if timeout == 0 {
                sleepPrecisely(until: deadline)
                return .deadline
            }
            var fds = [
                pollfd(fd: signals.fileDescriptor, events: Int16(POLLIN), revents: 0),
                pollfd(
                    fd: masterGone ? -1 : ChildDescriptor.handoff, events: Int16(POLLIN), revents: 0
                ),
                pollfd(fd: fd ?? -1, events: Int16(POLLIN), revents: 0),
            ]
            if poll(&fds, 3, wakingForOrphanDeadline(timeout)) < 0, errno != EINTR {
                return .deadline
            }
            if fds[0].revents != 0 { handleSignals() }
            if fds[1].revents != 0 { handleMasterPipe() }
            if let stopRequest, interruptions.contains(stopRequest) { return .stopped }
            if fds[2].revents != 0 { return .readable }
        }
    }

    /// Reads pending signals without waiting.
    func pollSignals() {
        handleSignals()
    }

    private func milliseconds(until deadline: Int64?) -> Int32 {
        guard let deadline else { return -1 }
        let remaining = deadline - Monotonic.now()
        if remaining <= 1_000_000 { return 0 }
        return Int32(min(remaining / 1_000_000, 60_000))
    }

    /// A poll timeout shortened so that the wait wakes up at the orphan deadline.
    private func wakingForOrphanDeadline(_ timeout: Int32) -> Int32 {
        guard let orphanDeadline, stopRequest != .terminate else { return timeout }
        let remaining = Int32(clamping: max(0, (orphanDeadline - Monotonic.now()) / 1_000_000 + 1))
        return timeout < 0 ? remaining : min(timeout, remaining)
    }

    /// Sleeps out the last millisecond that `poll` cannot time precisely.
    private func sleepPrecisely(until deadline: Int64?) {
        guard let deadline else { return }
        var time = timespec(
            tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &time, nil) == EINTR {}
    }

    private func handleSignals() {
        for signal in signals.drain() {
            switch signal {
            case SIGTERM, SIGINT:
                requestStop(.drain, because: "signal " + SignalReceiver.name(signal))
            case SIGQUIT: requestStop(.terminate, because: "signal QUIT")
            case SIGUSR1: logger.reopen()
            default: break  // HUP is the master's business; children ignore it.
            }
        }
    }

    private func handleMasterPipe() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(ChildDescriptor.handoff, &buffer, buffer.count)
        if count > 0 {
            pendingInput += buffer[0..<count]
            applyLogSettings()
        } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
            noticeMasterGone()
        }
    }

    /// Drains after the master's death, with the drain deadline the master would have kept.
    private func noticeMasterGone() {
        guard !masterGone else { return }
        masterGone = true
        orphanDeadline = Monotonic.now() + Int64(handoff.config.drainDeadline * 1e9)
        requestStop(.drain, because: "master exited")
    }

    /// Escalates an orphan's drain to a terminate once its drain deadline has passed.
    private func terminateIfOrphanedTooLong() {
        guard let orphanDeadline, Monotonic.now() >= orphanDeadline else { return }
        requestStop(.terminate, because: "master exited; drain deadline passed")
    }

    /// Applies every complete line of logging settings the master sent after a reload.
    private func applyLogSettings() {
        while let end = pendingInput.firstIndex(of: 0x0A) {
            let line = Array(pendingInput[..<end])
            pendingInput.removeSubrange(...end)
            guard let settings = try? JSONDecoder().decode(LogSettings.self, from: Data(line))
            else {
                logger.warning("ignored an unreadable line from the master")
                continue
            }
            settings.apply(to: logger)
        }
    }

    func requestStop(_ request: StopRequest, because reason: String) {
        if stopRequest == .terminate { return }
        if stopRequest == request { return }
        stopRequest = request
        logger.info(request == .drain ? "draining" : "terminating", [("reason", reason)])
    }

    private static func readLine(fd: Int32) -> [UInt8]? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = read(fd, &byte, 1)
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return line.isEmpty ? nil : line }
            if byte == 0x0A { return line }
            line.append(byte)
        }
    }
}

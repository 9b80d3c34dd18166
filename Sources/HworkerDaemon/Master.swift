// The master: starts, watches and stops the worker and monitor children of
// one server.
//
// Actors: the master (single-threaded, this file), its children (separate
// executions of the same binary), and the operator's signals. Signals are
// read from a signalfd; each loop turn reaps every exited child with
// waitpid(-1, WNOHANG), reads ready reports, starts children whose restart
// delay has passed, and kills children that outlived their stop deadline.
//
// Every child the master asks to stop gets a deadline when it is asked:
// `drain_deadline` for a drain (TERM, a retired generation, TTOU), five
// seconds for a terminate (QUIT). A child still running at its deadline is
// killed, and a worker's jobs go back to the queue. Monitors are asked to
// stop only once the last worker is gone, so they are never killed for a
// deadline that was not theirs.
//
// Guarantees: a child is bookkept by role, slot and generation; every start
// and exit is logged with PID and status; a worker that dies without
// draining has its in-flight jobs returned to the queue at once (the
// heartbeat expiry is the fallback when Redis is unreachable); a worker
// killed while holding the rate semaphore has the semaphore released.

import Glibc
import HworkerQueue
import HworkerRate
import HworkerRedis

/// A child's place: its role and slot number.
struct SlotKey: Hashable, CustomStringConvertible {
    var role: ChildRole
    var slot: Int

    var description: String { "\(role.rawValue)/\(slot)" }
}

/// What the master knows of one running child.
struct ChildRecord {
    var key: SlotKey
    var generation: Int
    var pid: pid_t
    var workerID: String
    /// The configuration it was started with: after a reload that changed the queue or
    /// Redis, its jobs still belong to the old ones.
    var config: Configuration
    var handoffFD: Int32
    var statusFD: Int32
    var startedAt: Int64
    var ready = false
    /// When the master asked it to stop, the time (CLOCK_MONOTONIC ns) at which it is killed.
    var stopDeadline: Int64?
    /// The master sent it SIGKILL at a deadline.
    var killed = false
    /// Status bytes read but not yet a whole line.
    var statusBuffer: [UInt8] = []
    /// The job a worker is sending, and since when.
    var busy: (job: String, since: Int64)?
    /// Jobs SES accepted that the worker has not recorded yet: (job id, message id).
    var accepted: [(jobID: String, messageID: String)] = []

    /// The master asked it to stop; it is not restarted.
    var stopping: Bool { stopDeadline != nil }
}

/// The restart bookkeeping of one slot.
struct SlotHealth {
    /// Exits in a row of children that did not stay up long; sets the restart delay.
    var failures = 0
    /// Exits in a row of children that never reported ready (or could not be spawned).
    var bootFailures = 0
    /// When the slot may start its next child (CLOCK_MONOTONIC ns).
    var nextStart: Int64 = 0
}

/// What the master is doing.
enum MasterPhase: Equatable {
    case running
    /// Workers finish their job in hand, then monitors stop; each is killed at its deadline.
    case draining
    /// Children give their jobs back at once; each is killed at its deadline.
    case terminating
}

/// The master process.
final class Master {
    private var config: Configuration
    private let configPath: String
    private let logger: Logger
    private let signals: SignalReceiver
    private var rate: RateSegment?
    /// Tells the janitor of any other master that the rate segment is in use.
    private var segmentClaim: SegmentClaim?
    private var pidfile: Pidfile?
    private var children: [pid_t: ChildRecord] = [:]
    private var health: [SlotKey: SlotHealth] = [:]
    private var generation = 1
    private var workerCount: Int
    private var phase = MasterPhase.running
    private var exitCode: Int32 = 0
    private var metrics = Metrics()
    /// Workers that died after SES accepted a send that nobody could record yet.
    private var unrecordedSends: [ChildRecord] = []
    /// Until when (CLOCK_MONOTONIC ns) status pipes are left unread, gathering lines.
    private var statusQuietUntil: Int64 = 0
    private let statusInterval: Int64 = 20_000_000
    private var nextUnrecordedRetry: Int64 = 0
    private var metricsServer: MetricsServer?
    private let startedAt = Monotonic.now()

    /// A child that stays up this long, and reported ready, has its slot's crash count reset.
    private let stableAfter: Int64 = 10_000_000_000
    /// How long children asked to terminate (QUIT) have before they are killed.
    private let terminateDeadline: Int64 = 5_000_000_000
    /// Boot failures in a row of every slot of a role before the master gives up.
    private let giveUpAfter = 5

    /// The signals the master handles; blocked before any thread exists.
    static let handledSignals: [Int32] = [
        SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGTTIN, SIGTTOU, SIGUSR1,
    ]

    /// A log format given on the command line, which outlasts reloads.
    private let logFormatOverride: LogFormat?

    init(
        config: Configuration, configPath: String, signals: SignalReceiver,
        logFormatOverride: LogFormat? = nil
    ) {
        self.logFormatOverride = logFormatOverride
        // A log write to a pipe whose reader is gone (journald restarting, `| logger`
        // killed) must fail with EPIPE, not end the master. Children are spawned with
        // default dispositions and ignore SIGPIPE themselves.
        signal(SIGPIPE, SIG_IGN)
        self.config = config
        self.configPath = configPath
        self.signals = signals
        workerCount = config.workers
        logger = Logger(
            level: config.logLevel, format: config.logFormat, path: config.logFile,
            context: [("role", "master"), ("pid", String(getpid()))])
    }

    /// Runs the master until it has drained or terminated.
    ///
    /// - Returns: The exit code: 0 after a clean drain.
    func run() -> Int32 {
        guard start() else { return 1 }
        while !(phase != .running && children.isEmpty) {
            waitForEvents()
            handleSignals()
            reap()
            startDueChildren()
            stopMonitorsAfterLastWorker()
            killChildrenPastDeadline()
            killStuckWorkers()
            retryUnrecordedSends()
        }
        shutdown()
        return exitCode
    }

    // MARK: start and stop

    private func start() -> Bool {
        if let path = config.pidfile {
            do {
                pidfile = try Pidfile(path: path)
            } catch {
                refuseToStart("cannot start", error.description)
                return false
            }
        }
        for name in SharedMemoryJanitor.removeStale() {
            logger.warning("removed stale shared memory of a dead master", [("name", name)])
        }
        let name = SharedMemoryJanitor.segmentName(queue: config.queue, pid: getpid())
        do {
            rate = try RateSegment.create(name: name, rate: config.rate, burst: config.burst)
            segmentClaim = SharedMemoryJanitor.claim(name)
        } catch {
            refuseToStart("cannot create the rate segment", error.description)
            pidfile?.remove()
            return false
        }
        if let address = config.metricsAddress { openMetrics(address) }
        logger.info(
            "master started",
            [
                ("queue", config.queue), ("workers", String(workerCount)),
                ("monitors", String(config.monitors)), ("rate", config.rateDescription),
                ("burst", String(config.burst)), ("config", configPath),
            ])
        return true
    }

    /// Logs why the master cannot start, and says it on standard error too when the log
    /// goes to a file, so that an operator who started it by hand sees why it exited 1.
    private func refuseToStart(_ message: String, _ error: String) {
        logger.error(message, [("error", error)])
        if config.logFile != nil {
            writeAll(2, Array("hworker-ses: \(message): \(error)\n".utf8))
        }
    }

    private func shutdown() {
        for record in unrecordedSends {
            logger.error(
                "stopping with sends SES accepted that Redis could not record; "
                    + "their jobs stay in flight and will be sent again",
                fields(record) + [("job.ids", record.accepted.map(\.jobID).joined(separator: ","))])
        }
        rate?.unlink()
        pidfile?.remove()
        logger.info("master stopped", [("exit_code", String(exitCode))])
    }

    // MARK: events

    private func waitForEvents() {
        var fds = [pollfd(fd: signals.fileDescriptor, events: Int16(POLLIN), revents: 0)]
        let records = Array(children.values)
        // Busy workers write status lines for every job; reading them at most every
        // `statusInterval` lets the lines of many jobs arrive in one wake-up. While a
        // child is starting, its `ready` is read at once.
        let now = Monotonic.now()
        let readNow = now >= statusQuietUntil || records.contains { !$0.ready }
        for record in records {
            fds.append(
                pollfd(fd: readNow ? record.statusFD : -1, events: Int16(POLLIN), revents: 0))
        }
        if let metricsServer {
            fds.append(pollfd(fd: metricsServer.fileDescriptor, events: Int16(POLLIN), revents: 0))
        }
        var timeout = nextTimeout()
        if !readNow {
            let quiet = Int32((statusQuietUntil - now) / 1_000_000 + 1)
            timeout = timeout < 0 ? quiet : min(timeout, quiet)
        }
        let count = poll(&fds, nfds_t(fds.count), timeout)
        guard count > 0 else { return }
        var read = false
        for (index, record) in records.enumerated() where fds[index + 1].revents != 0 {
            drainStatus(of: record.pid)
            read = true
        }
        if read { statusQuietUntil = Monotonic.now() + statusInterval }
        if let metricsServer, fds[records.count + 1].revents != 0 {
            metricsServer.serve { renderMetrics() }
        }
    }

    /// Milliseconds until the next restart or deadline, or -1 for none.
    private func nextTimeout() -> Int32 {
        var next: Int64 = .max
        if phase == .running {
            for key in missingSlots() { next = min(next, health[key]?.nextStart ?? 0) }
        }
        for record in children.values where !record.killed {
            if let deadline = record.stopDeadline { next = min(next, deadline) }
        }
        for record in children.values where !record.killed {
            if let busy = record.busy {
                next = min(next, busy.since + Int64(config.jobDeadline * 1e9))
            }
        }
        if !unrecordedSends.isEmpty { next = min(next, nextUnrecordedRetry) }
        if next == .max { return -1 }
        let remaining = (next - Monotonic.now()) / 1_000_000 + 1
        return Int32(max(0, min(remaining, 60_000)))
    }

    /// Reads every status line a child left in its pipe.
    private func drainStatus(of pid: pid_t) {
        // A pipe holds 64 KiB unless enlarged: a few reads empty it.
        for _ in 0..<64 {
            guard let record = children[pid], record.statusFD >= 0 else { return }
            var fd = pollfd(fd: record.statusFD, events: Int16(POLLIN), revents: 0)
            guard poll(&fd, 1, 0) > 0 else { return }
            readStatus(of: pid)
        }
    }

    private func readStatus(of pid: pid_t) {
        guard var record = children[pid] else { return }
        var buffer = [UInt8](repeating: 0, count: 16384)
        let count = read(record.statusFD, &buffer, buffer.count)
        if count == 0 {
            // The child closed its status pipe: it is exiting; SIGCHLD follows.
            close(record.statusFD)
            record.statusFD = -1
            children[pid] = record
            return
        }
        guard count > 0 else { return }
        record.statusBuffer += buffer[0..<count]
        while let newline = record.statusBuffer.firstIndex(of: 0x0A) {
            let line = String(decoding: record.statusBuffer[..<newline], as: UTF8.self)
            record.statusBuffer.removeSubrange(...newline)
            apply(statusLine: line, to: &record)
        }
        children[pid] = record
    }

    /// Applies one line of the status protocol (see `ChildDescriptor.status`).
    private func apply(statusLine line: String, to record: inout ChildRecord) {
        let words = line.split(separator: " ", maxSplits: 2).map(String.init)
        switch words.first {
        case "ready":
            guard !record.ready else { return }
            record.ready = true
            children[record.pid] = record
            logger.debug("child ready", fields(record))
            if record.generation == generation { health[record.key]?.bootFailures = 0 }
            retireOldGenerationIfReady()
        case "busy" where words.count >= 2:
            record.busy = (words[1], Monotonic.now())
        case "sent" where words.count >= 3:
            let rest = words[2].split(separator: " ")
            record.accepted.append((words[1], String(rest[0])))
            metrics.recordJob(outcome: "sent", milliseconds: rest.count > 1 ? Int(rest[1]) ?? 0 : 0)
            record.busy = nil
        case "done" where words.count >= 2:
            let rest = words.count > 2 ? words[2] : "0"
            metrics.recordJob(outcome: words[1], milliseconds: Int(rest) ?? 0)
            record.busy = nil
        case "recorded":
            record.busy = nil
            record.accepted = []
        default:
            logger.warning("unknown status line from a child", fields(record) + [("line", line)])
        }
    }

    private func handleSignals() {
        for signal in signals.drain() {
            if signal != SIGCHLD {
                logger.info("signal received", [("signal", SignalReceiver.name(signal))])
            }
            switch signal {
            case SIGTERM, SIGINT: beginDrain()
            case SIGQUIT: beginTerminate()
            case SIGHUP: reload()
            case SIGTTIN: resizeWorkers(by: 1)
            case SIGTTOU: resizeWorkers(by: -1)
            case SIGUSR1: reopenLogs()
            default: break  // SIGCHLD: every loop turn reaps.
            }
        }
    }

    // MARK: children

    private func missingSlots() -> [SlotKey] {
        var wanted = (0..<workerCount).map { SlotKey(role: .worker, slot: $0) }
        wanted += (0..<config.monitors).map { SlotKey(role: .monitor, slot: $0) }
        var present = Set(children.values.filter { $0.generation == generation }.map(\.key))
        present.formUnion(unrecordedSends.filter { $0.generation == generation }.map(\.key))
        return wanted.filter { !present.contains($0) }
    }

    private func startDueChildren() {
        guard phase == .running else { return }
        let now = Monotonic.now()
        for key in missingSlots() where (health[key]?.nextStart ?? 0) <= now {
            launch(key)
        }
    }

    private func launch(_ key: SlotKey) {
        let workerID = "\(LocalHost.name):\(getpid()):\(key.slot).\(generation)"
        let handoff = ChildHandoff(
            role: key.role, slot: key.slot, generation: generation, masterPID: getpid(),
            workerID: workerID, rateSegment: rate?.name ?? "", config: config)
        do {
            let child = try ChildLauncher.launch(handoff)
            let record = ChildRecord(
                key: key, generation: generation, pid: child.pid, workerID: workerID,
                config: config, handoffFD: child.handoffFD, statusFD: child.statusFD,
                startedAt: Monotonic.now())
            children[child.pid] = record
            metrics.childStarts[key.role.rawValue, default: 0] += 1
            logger.info("child started", fields(record))
        } catch {
            logger.error(
                "cannot start child", [("slot", key.description), ("error", error.description)])
            scheduleRestart(key, stable: false, booted: false)
        }
    }

    /// Reaps every exited child.
    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            // What the child wrote last (a send SES accepted) is read before its exit is handled.
            drainStatus(of: pid)
            guard let record = children.removeValue(forKey: pid) else { continue }
            childExited(record, status: status)
        }
    }

    private func childExited(_ record: ChildRecord, status: Int32) {
        close(record.handoffFD)
        if record.statusFD >= 0 { close(record.statusFD) }
        let exit = ExitStatus(status)
        var info = fields(record) + exit.fields
        info.append(("uptime_ms", String((Monotonic.now() - record.startedAt) / 1_000_000)))
        let clean = exit == .exited(0)
        clean ? logger.info("child exited", info) : logger.error("child exited", info)
        if !clean { metrics.childCrashes[record.key.role.rawValue, default: 0] += 1 }
        if rate?.release(heldBy: record.pid) == true {
            logger.warning("released the rate lock held by a dead child", fields(record))
        }
        // A worker that stopped before its sends were recorded (a terminate during a Redis
        // outage) left them to the master, even when it exited cleanly.
        if record.key.role == .worker, !clean || !record.accepted.isEmpty {
            if acknowledgeAcceptedJob(of: record) {
                returnJobs(of: record)
            } else {
                // Redis is away: keep trying, and keep the slot empty meanwhile, so that
                // its replacement (same worker id) cannot send the job again first.
                unrecordedSends.append(record)
            }
        }
        if exit == .exited(exitConfigError) {
            logger.error("child cannot run with this configuration; stopping", fields(record))
            exitCode = exitConfigError
            beginDrain()
            return
        }
        guard phase == .running, !record.stopping, record.generation == generation else {
            if phase == .running, record.stopping, record.generation != generation {
                retireOldGenerationIfReady()
            }
            return
        }
        // SIGKILL comes from outside (the OOM killer, an operator), never from a fault of the
        // child's own, so a child that was killed after it reported ready is no crash loop:
        // it restarts after the first delay, however often it is killed.
        let lived = Monotonic.now() - record.startedAt
        let stable = record.ready && (lived >= stableAfter || exit == .signaled(SIGKILL))
        scheduleRestart(record.key, stable: stable, booted: record.ready)
    }

    /// Schedules a slot's restart with exponential backoff, and gives up when no child of a
    /// role can boot.
    ///
    /// - Parameters:
    ///   - key: The slot.
    ///   - stable: Whether the child ran long enough, or ended in a way, that clears the
    ///     slot's crash count.
    ///   - booted: Whether the child reported ready before it exited.
    private func scheduleRestart(_ key: SlotKey, stable: Bool, booted: Bool) {
        var entry = health[key] ?? SlotHealth()
        entry.failures = stable ? 1 : entry.failures + 1
        entry.bootFailures = booted ? 0 : entry.bootFailures + 1
        let delay = min(100_000_000 << min(entry.failures - 1, 9), 30_000_000_000)
        entry.nextStart = Monotonic.now() + Int64(delay)
        health[key] = entry
        logger.info(
            "child restart scheduled",
            [
                ("slot", key.description), ("failures", String(entry.failures)),
                ("delay_ms", String(delay / 1_000_000)),
            ])
        if let role = roleThatCannotBoot() {
            logger.error(
                "every slot of a role keeps failing to start; giving up",
                [("child.role", role.rawValue), ("boot_failures", String(giveUpAfter))])
            exitCode = 1
            beginTerminate()
        }
    }

    /// Records the send of a worker that died after SES accepted a message and before the
    /// worker recorded it, so that the job is not sent again.
    /// - Returns: false when Redis could not be reached and the send is not recorded yet.
    @discardableResult
    private func acknowledgeAcceptedJob(of record: ChildRecord) -> Bool {
        guard !record.accepted.isEmpty else { return true }
        var info =
            fields(record) + [
                ("job.ids", record.accepted.map(\.jobID).joined(separator: ",")),
                ("ses.message_ids", record.accepted.map(\.messageID).joined(separator: ",")),
            ]
        do {
            let session = try deadWorkerSession(record)
            defer { session.disconnect() }
            let found = try session.acknowledgeForDeadWorker(record.accepted)
            info.append(("found", String(found)))
            logger.info("acknowledged a send the dead worker could not record", info)
            return true
        } catch {
            logger.warning(
                "cannot acknowledge the dead worker's send yet; retrying every second",
                info + [("error", "\(error)")])
            return false
        }
    }

    /// Retries recording the sends of dead workers that Redis was not there for.
    private func retryUnrecordedSends() {
        guard !unrecordedSends.isEmpty, Monotonic.now() >= nextUnrecordedRetry else { return }
        nextUnrecordedRetry = Monotonic.now() + 1_000_000_000
        let waiting = unrecordedSends
        unrecordedSends = []
        for record in waiting {
            if acknowledgeAcceptedJob(of: record) {
                returnJobs(of: record)
            } else if phase == .running {
                unrecordedSends.append(record)
            }
        }
    }

    /// A session on the queue and Redis the worker was started with (a reload may have
    /// changed them since).
    private func deadWorkerSession(_ record: ChildRecord) throws -> WorkerSession {
        WorkerSession(
            workerID: record.workerID, keys: try QueueKeys(name: record.config.queue),
            redis: record.config.redisOptions, retry: record.config.retryPolicy, heartbeatTTL: 1,
            resultTTL: Int(record.config.resultTTL), eventsMaxLength: record.config.eventsMax)
    }

    /// Kills workers whose send has taken longer than the job deadline; reaping them
    /// returns their jobs to the queue.
    private func killStuckWorkers() {
        let deadline = Int64(config.jobDeadline * 1e9)
        let now = Monotonic.now()
        for (pid, var record) in children where !record.killed {
            guard let busy = record.busy, now - busy.since > deadline else { continue }
            logger.error(
                "worker stuck past the job deadline; killing it",
                fields(record) + [("job.id", busy.job), ("deadline_s", String(config.jobDeadline))])
            kill(pid, SIGKILL)
            record.killed = true
            children[pid] = record
        }
    }

    /// A role every slot of which failed to boot `giveUpAfter` times in a row, if any.
    ///
    /// Without workers nothing is sent, and without monitors retries never come back, so
    /// either is reason to stop loudly rather than retry forever; a child killed after it
    /// reported ready is not a boot failure.
    private func roleThatCannotBoot() -> ChildRole? {
        let slots: [(ChildRole, Int)] = [(.worker, workerCount), (.monitor, config.monitors)]
        for (role, count) in slots {
            let hopeless = (0..<count).allSatisfy {
                (health[SlotKey(role: role, slot: $0)]?.bootFailures ?? 0) >= giveUpAfter
            }
            if hopeless { return role }
        }
        return nil
    }

    /// Gives the in-flight jobs of a worker that died back to the queue at once.
    private func returnJobs(of record: ChildRecord) {
        do {
            let session = try deadWorkerSession(record)
            defer { session.disconnect() }
            try session.unregister()
            logger.info("returned the dead worker's jobs to the queue", fields(record))
        } catch {
            logger.warning(
                "cannot return the dead worker's jobs now; "
                    + "a monitor will after its heartbeat expires",
                fields(record) + [("error", "\(error)")])
        }
    }

    /// Sends `signal` to the children `include` selects and gives each a stop deadline
    /// `allowed` nanoseconds from now (or keeps an earlier one it already has).
    private func signalChildren(
        _ signal: Int32, allowed: Int64, where include: (ChildRecord) -> Bool
    ) {
        let deadline = Monotonic.now() + allowed
        for (pid, var record) in children where include(record) {
            kill(pid, signal)
            record.stopDeadline = min(record.stopDeadline ?? .max, deadline)
            children[pid] = record
        }
    }

    /// Nanoseconds a drain may take, from the configuration.
    private var drainAllowance: Int64 { Int64(config.drainDeadline * 1e9) }

    // MARK: drain, terminate, deadlines

    private func beginDrain() {
        guard phase == .running else { return }
        phase = .draining
        logger.info("draining", [("deadline_s", String(config.drainDeadline))])
        signalChildren(SIGTERM, allowed: drainAllowance) { $0.key.role == .worker }
    }

    private func beginTerminate() {
        if phase == .terminating { return }
        phase = .terminating
        logger.info("terminating")
        signalChildren(SIGQUIT, allowed: terminateDeadline) { _ in true }
    }

    /// While stopping, asks the monitors to drain once the last worker is gone: until then
    /// they keep returning the jobs of workers that die.
    private func stopMonitorsAfterLastWorker() {
        guard phase != .running, !children.values.contains(where: { $0.key.role == .worker })
        else { return }
        signalChildren(SIGTERM, allowed: drainAllowance) {
            $0.key.role == .monitor && !$0.stopping
        }
    }

    /// Kills every child still running past its stop deadline.
    private func killChildrenPastDeadline() {
        let now = Monotonic.now()
        for (pid, var record) in children where !record.killed {
            guard let deadline = record.stopDeadline, now >= deadline else { continue }
            logger.warning("deadline passed; killing child", fields(record))
            kill(pid, SIGKILL)
            record.killed = true
            children[pid] = record
        }
    }

    // MARK: reload and resizing

    private func reload() {
        guard phase == .running else { return }
        var next: Configuration
        do {
            next = try CredentialResolver.resolve(ConfigParser.load(path: configPath))
            if let logFormatOverride { next.logFormat = logFormatOverride }
        } catch {
            logger.error(
                "reload refused; keeping the running configuration", [("error", "\(error)")])
            metrics.reloads["refused", default: 0] += 1
            return
        }
        metrics.reloads["accepted", default: 0] += 1
        // An automatic rate keeps what SES said until the next account check.
        if !next.rateAuto { rate?.update(rate: next.rate, burst: next.burst) }
        passLogSettings(LogSettings(next))
        var live = config
        live.rate = next.rate
        live.burst = next.burst
        live.logLevel = next.logLevel
        live.logFormat = next.logFormat
        live.logFile = next.logFile
        let restartNeeded = live != next
        // TTIN and TTOU adjust the count until the file's own count changes.
        if next.workers != config.workers { workerCount = next.workers }
        config = next
        guard restartNeeded else {
            logger.info(
                "reload applied live", [("rate", String(next.rate)), ("burst", String(next.burst))])
            return
        }
        generation += 1
        health = [:]
        logger.info("reload: starting a new generation", [("gen", String(generation))])
        startDueChildren()
    }

    /// Applies logging settings to the master's logger and passes them to every child.
    private func passLogSettings(_ settings: LogSettings) {
        settings.apply(to: logger)
        let line = settings.encodedLine()
        for record in children.values where !writeAll(record.handoffFD, line) {
            logger.warning(
                "cannot pass the new logging settings to a child",
                fields(record) + [("error", String(cString: strerror(errno)))])
        }
    }

    /// Once every child of the current generation is ready, drains the older ones.
    private func retireOldGenerationIfReady() {
        let current = children.values.filter { $0.generation == generation }
        guard missingSlots().isEmpty, current.allSatisfy(\.ready) else { return }
        let old = children.values.filter { $0.generation != generation && !$0.stopping }
        guard !old.isEmpty else { return }
        logger.info("new generation ready; draining the old one", [("gen", String(generation))])
        signalChildren(SIGTERM, allowed: drainAllowance) {
            $0.generation != self.generation && !$0.stopping
        }
    }

    private func resizeWorkers(by change: Int) {
        guard phase == .running else { return }
        let target = max(1, workerCount + change)
        guard target != workerCount else {
            logger.info(
                "worker count unchanged; at least one worker runs",
                [("workers", String(workerCount))])
            return
        }
        workerCount = target
        logger.info("worker count changed", [("workers", String(workerCount))])
        signalChildren(SIGTERM, allowed: drainAllowance) {
            $0.key.role == .worker && $0.key.slot >= target && !$0.stopping
        }
    }

    private func reopenLogs() {
        logger.reopen()
        // The signal's own line went to the old file; this one opens the new file.
        logger.info("log file reopened", [("children", String(children.count))])
        for pid in children.keys { kill(pid, SIGUSR1) }
    }

    // MARK: metrics

    private func openMetrics(_ address: String) {
        do {
            metricsServer = try MetricsServer(address: address)
            logger.info("serving metrics", [("address", address)])
        } catch {
            logger.error("cannot serve metrics; running without", [("error", error.description)])
        }
    }

    private func renderMetrics() -> String {
        let workers = children.values.filter { $0.key.role == .worker && !$0.stopping }.count
        let monitors = children.values.filter { $0.key.role == .monitor && !$0.stopping }.count
        var gauges: [(String, String, Double)] = [
            ("hworker_workers", "Workers running and taking jobs.", Double(workers)),
            ("hworker_monitors", "Monitors running.", Double(monitors)),
            (
                "hworker_generation", "The configuration generation of new children.",
                Double(generation)
            ),
            (
                "hworker_uptime_seconds", "Seconds since the master started.",
                Double(Monotonic.now() - startedAt) / 1e9
            ),
        ]
        if let rate {
            gauges += [
                (
                    "hworker_rate_configured", "Recipients per second this server may send.",
                    rate.rate
                ),
                (
                    "hworker_rate_effective", "The rate in use after throttling feedback.",
                    rate.effectiveRate
                ),
                (
                    "hworker_ses_throttles",
                    "Throttling answers from SES since the master started.",
                    Double(rate.throttleCount)
                ),
            ]
        }
        return metrics.render(gauges: gauges)
    }

    private func fields(_ record: ChildRecord) -> [(String, String)] {
        [
            ("child.role", record.key.role.rawValue), ("child.slot", String(record.key.slot)),
            ("child.gen", String(record.generation)), ("child.pid", String(record.pid)),
        ]
    }
}

/// How a child ended, from its wait status.
enum ExitStatus: Equatable {
    case exited(Int32)
    case signaled(Int32)

    init(_ status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    var fields: [(String, String)] {
        switch self {
        case .exited(let code): return [("exit_code", String(code))]
        case .signaled(let signal): return [("signal", SignalReceiver.name(signal))]
        }
    }
}

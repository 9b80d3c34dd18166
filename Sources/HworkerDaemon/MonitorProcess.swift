// The monitor: returns the jobs of workers whose heartbeat expired to the
// queue, and moves delayed jobs (retries, scheduled sends) back to the queue
// when they are due. It sleeps until the next delayed job is due, and never
// longer than a second, so liveness checks run at least once a second.

import HworkerQueue
import HworkerRate
import HworkerRedis

/// One monitor process.
final class MonitorProcess {
    private let runtime: ChildRuntime
    private let session: MonitorSession
    private var log: Logger { runtime.logger }
    private var redisDown = false
    private var sawEpochMarker = false
    /// Until when heartbeats are not trusted: workers could not refresh them while Redis
    /// was unreachable, so they get one heartbeat timeout to do it after it is back.
    private var trustHeartbeatsAfter: Int64 = 0
    private let account: AccountWatcher?
    private var nextAccountCheck: Int64 = 0

    init(runtime: ChildRuntime, keys: QueueKeys, account: AccountWatcher?) {
        self.runtime = runtime
        self.account = account
        session = MonitorSession(keys: keys, redis: runtime.handoff.config.redisOptions)
    }

    /// Runs until asked to stop.
    func run() -> Int32 {
        runtime.reportReady()
        log.info("monitor ready")
        while runtime.stopRequest == nil {
            checkAccountIfDue()
            let wait = pass()
            runtime.wait(until: Monotonic.now() + wait)
        }
        log.info("monitor stopped")
        return 0
    }

    private func checkAccountIfDue() {
        guard let account, Monotonic.now() >= nextAccountCheck else { return }
        account.check(session: session)
        nextAccountCheck = Monotonic.now() + Int64(runtime.handoff.config.rateRefresh * 1e9)
    }

    /// One round of liveness checks and promotions.
    ///
    /// - Returns: Nanoseconds until the next round.
    private func pass() -> Int64 {
        let second: Int64 = 1_000_000_000
        do {
            if try session.ensureEpochMarker(), sawEpochMarker {
                log.error(
                    "Redis lost its data (restarted without persistence, or flushed); "
                        + "jobs queued before that are gone")
            }
            sawEpochMarker = true
            if redisDown {
                redisDown = false
                let grace = runtime.handoff.config.heartbeatTimeout
                trustHeartbeatsAfter = Monotonic.now() + Int64(grace * 1e9)
                log.info(
                    "redis reachable again; heartbeats trusted again after a heartbeat timeout")
            }
            let recovered =
                Monotonic.now() >= trustHeartbeatsAfter ? try session.recoverDeadWorkers() : 0
            if recovered > 0 {
                log.warning(
                    "returned jobs of dead workers to the queue", [("jobs", String(recovered))])
            }
            var next: Int?
            var moved = 0
            repeat {
                (moved, next) = try session.promoteDueJobs(limit: 1000)
                if moved > 0 { log.debug("promoted due jobs", [("jobs", String(moved))]) }
            } while moved == 1000
            return min(second, Int64(next ?? 1000) * 1_000_000)
        } catch {
            if !error.isConnectionLost {
                log.error("redis error; retrying", [("error", error.description)])
            } else if !redisDown {
                log.error("redis unreachable; retrying", [("error", error.description)])
            }
            redisDown = error.isConnectionLost
            session.disconnect()
            return Int64(Double(second) * Double.random(in: 0.5...1.5))
        }
    }
}

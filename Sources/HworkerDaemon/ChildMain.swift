// The entry point of a child process: `hworker-ses child worker|monitor`,
// started by the master only.

import Glibc
import HworkerQueue
import HworkerRate

/// Runs a child process.
enum ChildMain {
    /// Runs the child of the given role and returns its exit code.
    static func run(role: String) -> Int32 {
        let runtime: ChildRuntime
        do {
            runtime = try ChildRuntime()
        } catch {
            let message = "hworker-ses: this command is started by the master only (\(error))\n"
            writeAll(2, Array(message.utf8))
            return 2
        }
        let config = runtime.handoff.config
        let keys: QueueKeys
        do {
            keys = try QueueKeys(name: config.queue)
        } catch {
            runtime.logger.error("bad queue name", [("error", error.description)])
            return exitConfigError
        }
        switch runtime.handoff.role {
        case .monitor:
            var account: AccountWatcher?
            if runtime.handoff.slot == 0, config.transport == .ses, config.accountCheck {
                do {
                    account = try AccountWatcher(
                        config: config, rateSegment: runtime.handoff.rateSegment,
                        logger: runtime.logger)
                } catch {
                    runtime.logger.error("cannot watch the SES account", [("error", "\(error)")])
                }
            }
            return MonitorProcess(runtime: runtime, keys: keys, account: account).run()
        case .worker:
            let rate: RateSegment
            do {
                rate = try RateSegment.attach(name: runtime.handoff.rateSegment)
            } catch {
                runtime.logger.error(
                    "cannot attach the rate segment", [("error", error.description)])
                return 1
            }
            let transport: MailTransport
            do {
                transport = try TransportFactory.make(config)
            } catch {
                runtime.logger.error("cannot set up sending", [("error", "\(error)")])
                return exitConfigError
            }
            return WorkerProcess(runtime: runtime, keys: keys, rate: rate, transport: transport)
                .run()
        }
    }
}

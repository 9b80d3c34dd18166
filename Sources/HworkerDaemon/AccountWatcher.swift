// Reading the SES account from one monitor per server.
//
// Every `rate_refresh`, the monitor of slot 0 reads SES's MaxSendRate,
// Max24HourSend, SentLast24Hours and whether sending is enabled (v2
// GetAccount, or v1 GetSendQuota where v2 is not available). With
// `rate = auto` it sets this server's rate to MaxSendRate × rate_headroom in
// the shared segment. When the quota is used up or sending is disabled it
// pauses sending on every server (the `ses_pause` key, until the next
// check); when the account is fine again it lifts a pause SES caused.

import HworkerQueue
import HworkerRate
import HworkerRedis
import HworkerSES

/// What one account check found.
struct AccountState: Equatable {
    var maxSendRate: Double
    var max24HourSend: Double
    var sentLast24Hours: Double
    var sendingEnabled: Bool

    /// Why sending must pause, or nil.
    var pauseReason: String? {
        if !sendingEnabled { return "sending is disabled for the account" }
        if max24HourSend >= 0, sentLast24Hours >= max24HourSend {
            return "daily quota used up (\(Int(sentLast24Hours)) of \(Int(max24HourSend)))"
        }
        return nil
    }
}

/// Reads the SES account and applies what it says.
final class AccountWatcher {
    private let client: SESClient
    private let config: Configuration
    private let rate: RateSegment?
    private let logger: Logger
    private var failing = false
    private var useV1 = false

    init(config: Configuration, rateSegment: String, logger: Logger) throws {
        guard let key = config.awsAccessKeyID, let secret = config.awsSecretAccessKey else {
            throw CredentialError(reason: "credentials were not resolved by the master")
        }
        client = try SESClient(
            configuration: SESClient.Configuration(
                region: config.region,
                credentials: AWSCredentials(
                    accessKeyId: key, secretAccessKey: secret, sessionToken: config.awsSessionToken),
                endpoint: config.sesEndpoint,
                connectTimeout: .milliseconds(Int(config.connectTimeout * 1000)),
                requestTimeout: .milliseconds(Int(config.sendTimeout * 1000))))
        self.config = config
        self.logger = logger
        rate = try? RateSegment.attach(name: rateSegment)
    }

    /// Reads the account and applies it; failures are logged once per streak.
    ///
    /// - Parameter session: The monitor's queue session, for the pause and account keys.
    func check(session: MonitorSession) {
        guard let state = read() else { return }
        applyRate(state)
        do {
            try session.recordAccount(
                "{\"max_send_rate\":\(state.maxSendRate),\"max_24_hour_send\":\(state.max24HourSend),"
                    + "\"sent_last_24_hours\":\(state.sentLast24Hours),"
                    + "\"sending_enabled\":\(state.sendingEnabled)}")
            if let reason = state.pauseReason {
                logger.error("SES account cannot send; pausing every worker", [("reason", reason)])
                try session.pauseSending(reason: reason, seconds: config.rateRefresh + 1)
            } else if try session.liftSESPause() {
                logger.info("SES account can send again; pause lifted")
            }
        } catch {
            logger.warning("cannot record the SES account state", [("error", error.description)])
        }
    }

    private func read() -> AccountState? {
        do {
            let state = try readOnce()
            if failing { logger.info("SES account readable again") }
            failing = false
            return state
        } catch {
            if !failing {
                logger.warning("cannot read the SES account", [("error", error.description)])
            }
            failing = true
            return nil
        }
    }

    private func readOnce() throws(SESError) -> AccountState {
        if !useV1 {
            do {
                let account = try client.getAccount()
                return AccountState(
                    maxSendRate: account.sendQuota.maxSendRate,
                    max24HourSend: account.sendQuota.max24HourSend,
                    sentLast24Hours: account.sendQuota.sentLast24Hours,
                    sendingEnabled: account.sendingEnabled)
            } catch {
                // Peers without v2 GetAccount (moto) answer 404 or 5xx; v1 has the same numbers.
                guard case .service(let status) = error.kind, status == 404 || status >= 500 else {
                    throw error
                }
                useV1 = true
            }
        }
        let quota = try client.getSendQuota()
        return AccountState(
            maxSendRate: quota.maxSendRate, max24HourSend: quota.max24HourSend,
            sentLast24Hours: quota.sentLast24Hours, sendingEnabled: true)
    }

    private func applyRate(_ state: AccountState) {
        guard config.rateAuto, let rate, state.maxSendRate > 0 else { return }
        let wanted = min(Double(RateSegment.maxWindow), state.maxSendRate * config.rateHeadroom)
        guard abs(wanted - rate.rate) > 0.0001 else { return }
        rate.update(rate: wanted, burst: config.burst)
        logger.info(
            "rate set from SES",
            [
                ("ses.max_send_rate", String(state.maxSendRate)), ("rate", String(wanted)),
            ])
    }
}

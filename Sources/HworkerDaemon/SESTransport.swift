// Sending through SES, and turning SES's answers into what the worker does
// with the job (REFERENCE.md's error table): throttling is retried soon
// without counting an attempt; a used-up daily quota, a paused account and
// refused credentials keep the job for later instead of burning the queue
// into dead letters; transient errors retry with backoff; permanent errors
// are dead letters with SES's code and message.

import HworkerQueue
import HworkerSES

/// A transport that sends with SES v2 SendEmail.
final class SESTransport: MailTransport {
    private let client: SESClient
    private let pauses: PauseDurations

    /// How long sending pauses after SES refused to send anything for now.
    struct PauseDurations {
        /// After the daily quota ran out.
        var quota: Double
        /// After a paused account or refused credentials.
        var refusal: Double
    }

    /// The `ses.code` of a send whose TLS peer failed certificate verification.
    static let untrustedCertificateCode = "untrusted-certificate"

    init(client: SESClient, pauses: PauseDurations) {
        self.client = client
        self.pauses = pauses
    }

    var lastSendWasResent: Bool { client.lastRequestWasResent }

    func send(_ email: EmailMessage) -> Result<String, SendFailure> {
        do {
            // The worker validated the email when it took the job.
            return .success(try client.send(email, validate: false).messageId)
        } catch {
            return .failure(Self.failure(for: error, pauses: pauses))
        }
    }

    /// What to do with a job after `error`.
    static func failure(for error: SESError, pauses: PauseDurations) -> SendFailure {
        let code = error.code ?? codeForKind(error.kind)
        let action: FailureAction
        switch error.classification {
        case .throttled: action = .throttle
        case .dailyQuotaExceeded: action = .pause(seconds: pauses.quota)
        case .paused, .credentials, .untrusted: action = .pause(seconds: pauses.refusal)
        case .clock, .transient: action = .retry
        case .permanent: action = .dead
        }
        return SendFailure(action: action, code: code, message: error.description)
    }

    private static func codeForKind(_ kind: SESError.Kind) -> String {
        switch kind {
        case .service(let status): return "HTTP\(status)"
        case .transport(.certificate): return untrustedCertificateCode
        case .transport: return "network"
        case .malformedResponse: return "malformed-answer"
        case .invalidMessage: return "invalid"
        case .requestEncoding: return "encoding"
        }
    }
}

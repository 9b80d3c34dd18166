// What a worker sends through, and what it does when a send fails.
//
// The daemon sends through SES; benchmarks measure the queue alone with a
// transport that discards. The worker never looks at SES error codes itself:
// the transport says what to do with the job.

import HworkerQueue

/// What a worker does with a job whose send failed.
public enum FailureAction: Sendable, Equatable {
    /// A transient failure: retry with exponential backoff, counting an attempt.
    case retry
    /// SES throttled the send: retry after the throttle delay, not counting an attempt.
    case throttle
    /// SES refuses to send anything for now (quota used up, account paused,
    /// credentials refused): retry after `seconds` without counting an attempt.
    case pause(seconds: Double)
    /// A permanent failure: move the job to the dead letters.
    case dead
}

/// A failed send.
public struct SendFailure: Error, Sendable {
    /// What to do with the job.
    public var action: FailureAction
    /// The SES error code, or a short code of ours such as `network`.
    public var code: String
    /// The error message, for the dead letter and the log.
    public var message: String

    /// Creates a failure.
    public init(action: FailureAction, code: String, message: String) {
        self.action = action
        self.code = code
        self.message = message
    }
}

/// Something that sends one email and says how it went.
public protocol MailTransport: AnyObject {
    /// Sends one email.
    ///
    /// - Parameter email: A validated email with its sender filled in.
    /// - Returns: The message id the service assigned, or the failure.
    func send(_ email: EmailMessage) -> Result<String, SendFailure>

    /// Whether a send may block on the network: a worker then tells the master which
    /// job it sends before each send, so that a hung send is found and stopped.
    var mayBlock: Bool { get }

    /// Whether the last send's request went out twice (its kept connection broke before
    /// an answer), so the service may have received the email twice.
    var lastSendWasResent: Bool { get }
}

extension MailTransport {
    /// Sends go over the network unless a transport says otherwise.
    public var mayBlock: Bool { true }

    /// Transports without kept connections never send a request twice.
    public var lastSendWasResent: Bool { false }
}

/// A transport that accepts everything and sends nothing, for benchmarks of the queue alone.
public final class DiscardingTransport: MailTransport {
    private var counter = 0

    /// Creates the transport.
    public init() {}

    /// Sends never block.
    public var mayBlock: Bool { false }

    /// Pretends to send and returns a made-up message id.
    public func send(_ email: EmailMessage) -> Result<String, SendFailure> {
        counter += 1
        return .success("discarded-\(counter)")
    }
}

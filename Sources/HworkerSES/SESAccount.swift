// What SES reports about the account and about a sent message.

/// The sending limits of the account, as SES reports them.
public struct SendQuota: Sendable, Equatable {
    /// Recipients allowed per 24 hours; negative means unlimited.
    public var max24HourSend: Double
    /// Recipients allowed per second.
    public var maxSendRate: Double
    /// Recipients sent to in the last 24 hours.
    public var sentLast24Hours: Double

    /// Creates a quota.
    ///
    /// - Parameters:
    ///   - max24HourSend: Recipients per 24 hours, negative for unlimited.
    ///   - maxSendRate: Recipients per second.
    ///   - sentLast24Hours: Recipients in the last 24 hours.
    public init(max24HourSend: Double, maxSendRate: Double, sentLast24Hours: Double) {
        self.max24HourSend = max24HourSend
        self.maxSendRate = maxSendRate
        self.sentLast24Hours = sentLast24Hours
    }

    /// Whether the daily quota is unlimited (`Max24HourSend` is -1).
    public var isUnlimited: Bool { max24HourSend < 0 }
}

/// The SES v2 account status (GetAccount).
public struct SESAccount: Sendable, Equatable {
    /// The sending limits.
    public var sendQuota: SendQuota
    /// Whether the account may send at all; false when SES has paused it.
    public var sendingEnabled: Bool
    /// Whether the account has left the sandbox, when SES says.
    public var productionAccessEnabled: Bool?

    /// Creates an account status.
    ///
    /// - Parameters:
    ///   - sendQuota: The sending limits.
    ///   - sendingEnabled: Whether sending is enabled.
    ///   - productionAccessEnabled: Whether the account is out of the sandbox.
    public init(sendQuota: SendQuota, sendingEnabled: Bool, productionAccessEnabled: Bool?) {
        self.sendQuota = sendQuota
        self.sendingEnabled = sendingEnabled
        self.productionAccessEnabled = productionAccessEnabled
    }
}

/// A message SES accepted.
public struct SentMessage: Sendable, Equatable {
    /// SES's id for it, which bounce and complaint notifications refer to.
    public var messageId: String

    /// Creates a sent-message record.
    ///
    /// - Parameter messageId: SES's message id.
    public init(messageId: String) {
        self.messageId = messageId
    }
}

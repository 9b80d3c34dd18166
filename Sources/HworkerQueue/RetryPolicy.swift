/// How often and how late a job whose send failed is tried again.
public struct RetryPolicy: Sendable, Equatable {
    /// Sends tried in all before a job becomes a dead letter.
    public var maxAttempts: Int
    /// The delay before the first retry, in seconds; it doubles with each attempt.
    public var baseDelay: Double
    /// The longest delay between two attempts, in seconds.
    public var maxDelay: Double
    /// The delay after SES throttled a send, in seconds; throttling does not count as an attempt.
    public var throttleDelay: Double

    /// Creates a policy; the defaults spread 8 attempts over about 20 minutes.
    public init(
        maxAttempts: Int = 8, baseDelay: Double = 10, maxDelay: Double = 900,
        throttleDelay: Double = 2
    ) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.throttleDelay = throttleDelay
    }
}

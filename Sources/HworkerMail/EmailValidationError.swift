// What is wrong with a message, and where.
//
// Producers validate before enqueueing, and workers again before sending, so
// a bad message is refused with a reason instead of failing at SES. `field`
// uses the JSON wire names (`reply_to[2]`, `headers[0].value`) because that is
// what a producer wrote.

/// A message field that breaks a rule, such as `to[3]: invalid address "bob@": empty domain`.
public struct EmailValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The offending field in wire form, such as `to[3]` or `headers[0].value`.
    public var field: String

    /// What is wrong with it.
    public var reason: Reason

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - field: The offending field in wire form.
    ///   - reason: What is wrong with it.
    public init(field: String, reason: Reason) {
        self.field = field
        self.reason = reason
    }

    /// `field: reason`.
    public var description: String { "\(field): \(reason)" }
}

extension EmailValidationError {
    /// The rule a field breaks.
    public enum Reason: Sendable, Equatable, CustomStringConvertible {
        /// The field is required but absent.
        case missing
        /// The field is present but empty.
        case empty
        /// The address does not parse.
        case invalidAddress(String, MailAddress.Problem)
        /// No recipient in To, Cc and Bcc (or, for raw messages, in their headers).
        case noRecipients
        /// More recipients than SES accepts in one message.
        case tooManyRecipients(count: Int, limit: Int)
        /// CR, LF or NUL in a header field, which would let it inject headers.
        case lineBreak
        /// A character the field's syntax does not allow.
        case invalidCharacter(Character)
        /// More characters than the field may hold.
        case tooLong(length: Int, limit: Int)
        /// A header the renderer writes itself from the message fields.
        case reservedHeader(String)
        /// A field that must be absent when `raw` is set.
        case notAllowedWithRaw
        /// Neither text nor html for a rendered message.
        case missingBody
        /// A content type that is not `type/subtype`.
        case invalidContentType
        /// A raw message without a `From:` header.
        case rawWithoutFrom
        /// The message would exceed SES's size limit.
        case tooLarge(estimatedBytes: Int, limit: Int)

        /// A short human explanation.
        public var description: String {
            switch self {
            case .missing: "is required"
            case .empty: "must not be empty"
            case .invalidAddress(let text, let problem):
                "invalid address \(String(reflecting: text)): \(problem)"
            case .noRecipients: "at least one recipient (to, cc or bcc) is required"
            case .tooManyRecipients(let count, let limit):
                "\(count) recipients, SES accepts at most \(limit)"
            case .lineBreak: "contains CR, LF or NUL (header injection)"
            case .invalidCharacter(let c): "character \(String(reflecting: String(c))) not allowed"
            case .tooLong(let length, let limit): "\(length) characters, at most \(limit) allowed"
            case .reservedHeader(let name):
                "\(name) is written from the message fields and cannot be an extra header"
            case .notAllowedWithRaw: "must be absent when raw is set"
            case .missingBody: "text or html is required"
            case .invalidContentType: "not a type/subtype media type"
            case .rawWithoutFrom: "raw message has no From header"
            case .tooLarge(let size, let limit):
                "message of about \(size) bytes exceeds SES's limit of \(limit)"
            }
        }
    }
}

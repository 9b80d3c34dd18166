// Maps SES's answers to what the worker should do (REFERENCE.md section 1).
//
// The wire code decides when SES gave one; codes that are not listed fall
// back to the HTTP status: 429 throttled, 401 and 403 credentials, 5xx
// transient, other 4xx permanent. No status at all (a transport failure) is
// transient. Two codes need the message: SES v1 reports both the sending rate
// and the daily quota as `Throttling`, and an expired signature comes back as
// a signature error although the cause is the clock.

extension SESError.Classification {
    private static let throttlingCodes: Set = [
        "Throttling", "ThrottlingException", "TooManyRequestsException",
    ]
    private static let pausedCodes: Set = [
        "AccountSendingPausedException", "SendingPausedException",
        "ConfigurationSetSendingPausedException", "AccountSuspendedException",
    ]
    private static let credentialsCodes: Set = [
        "SignatureDoesNotMatch", "InvalidClientTokenId", "IncompleteSignature",
        "UnrecognizedClientException", "InvalidSignatureException", "MissingAuthenticationToken",
        "MissingAuthenticationTokenException", "ExpiredToken", "ExpiredTokenException",
        "InvalidAccessKeyId", "NotAuthorized",
    ]
    private static let clockCodes: Set = ["RequestExpired", "RequestTimeTooSkewed"]
    private static let transientCodes: Set = [
        "InternalFailure", "InternalFailureException", "InternalServerError",
        "InternalServiceErrorException", "ServiceUnavailable", "ServiceUnavailableException",
    ]
    private static let permanentCodes: Set = [
        "MessageRejected", "MailFromDomainNotVerifiedException", "MailFromDomainNotVerified",
        "ConfigurationSetDoesNotExist", "ConfigurationSetDoesNotExistException",
        "InvalidParameterValue", "InvalidParameterValueException", "NotFoundException",
        "BadRequestException", "ValidationException",
    ]

    /// Classifies an SES answer or a transport failure.
    ///
    /// - Parameters:
    ///   - status: The HTTP status, or `nil` when no answer arrived.
    ///   - code: SES's error code, if any.
    ///   - message: SES's message (decides between rate and daily quota).
    /// - Returns: What the worker should do.
    public static func classify(status: Int?, code: String?, message: String) -> Self {
        if let code, let byCode = byCode(code, message: message.lowercased()) {
            return byCode
        }
        switch status {
        case nil: return .transient
        case 429: return .throttled
        case 401, 403: return .credentials
        case .some(500...): return .transient
        case .some(400..<500): return .permanent
        default: return .transient
        }
    }

    private static func byCode(_ code: String, message: String) -> Self? {
        if throttlingCodes.contains(code) {
            return message.contains("daily message quota") ? .dailyQuotaExceeded : .throttled
        }
        if pausedCodes.contains(code) { return .paused }
        if credentialsCodes.contains(code) || code.hasPrefix("AccessDenied") {
            return message.contains("signature expired") ? .clock : .credentials
        }
        if clockCodes.contains(code) { return .clock }
        if transientCodes.contains(code) { return .transient }
        if permanentCodes.contains(code) { return .permanent }
        return nil
    }
}

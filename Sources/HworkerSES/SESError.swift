// Everything that can go wrong with one SES call, and what the daemon should
// do about it.
//
// An SESError keeps what happened (the operation, the HTTP status, SES's wire
// code and message, the request id, or the transport failure) and one
// `Classification` that the worker acts on: requeue after a delay, pause all
// sending, reload credentials, alert about the clock, retry with backoff, or
// dead-letter the job. Classification is a pure function of status, code and
// message so that it can be tested on canned answers. The SES client scrubs
// the secret and the session token from every message before it builds an
// error, so printing one is always safe.

import HworkerMail

/// A failed SES call.
public struct SESError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What the worker should do about a failure.
    public enum Classification: String, Sendable, Equatable, CustomStringConvertible {
        /// Over the per-second sending rate: requeue with a delay and slow down.
        case throttled
        /// The 24-hour quota is used up: pause all sending and re-check the quota later.
        case dailyQuotaExceeded
        /// The account or configuration set is paused or suspended: pause and alert.
        case paused
        /// The key was refused: reload credentials once, then pause and alert.
        case credentials
        /// The request time was too far off: alert about the clock and retry.
        case clock
        /// A server or network failure: retry with exponential backoff and jitter.
        case transient
        /// SES's TLS certificate could not be verified (trusted certificates missing or
        /// wrong, or something intercepting the connection): pause all sending and alert;
        /// the message is not at fault.
        case untrusted
        /// The message itself was refused: dead-letter it with the reason.
        case permanent

        /// The case name, for logs (`ses.class=throttled`).
        public var description: String { rawValue }
    }

    /// How the call ended.
    public enum Kind: Sendable, Equatable {
        /// SES answered with an error status.
        case service(status: Int)
        /// No complete answer: not resolved, refused, reset, timed out, TLS failure.
        case transport(HTTPClientError.Kind)
        /// An answer that could not be read.
        case malformedResponse(status: Int)
        /// The message failed validation and was never sent.
        case invalidMessage(EmailValidationError)
        /// The request body could not be encoded; nothing was sent.
        case requestEncoding
    }

    /// The SES operation, such as `SendEmail`.
    public var operation: String
    /// How the call ended.
    public var kind: Kind
    /// SES's error code, such as `MessageRejected`, when it gave one.
    public var code: String?
    /// SES's message, or a description of the failure.
    public var message: String
    /// SES's request id, when it gave one.
    public var requestId: String?
    /// What the worker should do.
    public var classification: Classification

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - operation: The SES operation.
    ///   - kind: How the call ended.
    ///   - code: SES's error code, if any.
    ///   - message: SES's message or a description of the failure.
    ///   - requestId: SES's request id, if any.
    ///   - classification: What the worker should do.
    public init(
        operation: String, kind: Kind, code: String? = nil, message: String,
        requestId: String? = nil, classification: Classification
    ) {
        self.operation = operation
        self.kind = kind
        self.code = code
        self.message = message
        self.requestId = requestId
        self.classification = classification
    }

    /// The HTTP status of SES's answer, if there was one.
    public var status: Int? {
        switch kind {
        case .service(let status), .malformedResponse(let status): status
        case .transport, .invalidMessage, .requestEncoding: nil
        }
    }

    /// One line for logs, such as
    /// `SendEmail: HTTP 400 MessageRejected: Email address not verified [permanent]`.
    public var description: String {
        var parts = ["\(operation):"]
        switch kind {
        case .service(let status): parts.append("HTTP \(status)")
        case .transport(let kind): parts.append("transport error \(kind):")
        case .malformedResponse(let status): parts.append("unreadable answer (HTTP \(status))")
        case .invalidMessage: parts.append("invalid message")
        case .requestEncoding: parts.append("unencodable request")
        }
        if let code { parts.append("\(code):") }
        parts.append(message)
        if let requestId { parts.append("(request \(requestId))") }
        parts.append("[\(classification)]")
        return parts.joined(separator: " ")
    }

    /// The same error with every occurrence of each secret replaced by `<redacted>`.
    ///
    /// - Parameter secrets: Values that must never be printed, such as the secret key.
    /// - Returns: The scrubbed error.
    public func redacting(_ secrets: [String]) -> SESError {
        var copy = self
        for secret in secrets where !secret.isEmpty {
            copy.message = copy.message.replacingAll(secret, with: "<redacted>")
            copy.code = copy.code?.replacingAll(secret, with: "<redacted>")
        }
        return copy
    }
}

extension String {
    /// The string with every occurrence of `target` replaced.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

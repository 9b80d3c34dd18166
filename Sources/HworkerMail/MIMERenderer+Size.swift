// An upper estimate of a rendered message's size, without rendering it.
//
// Validation runs at enqueue time on messages with attachments of many
// megabytes; encoding them only to measure would double the work. The
// estimate errs high: base64 grows by 4/3 plus CRLF every 76 characters,
// quoted-printable by at most 3 per byte plus soft breaks, header text by at
// most twice its UTF-8 size as encoded-words, and every part and header gets
// a generous allowance for its fixed text.

extension MIMERenderer {
    /// An upper estimate of the size of `render(message)` in bytes.
    ///
    /// - Parameters:
    ///   - message: The message to measure.
    ///   - quickly: Count every body byte as quoted-printable's worst case instead of
    ///     reading the bodies: a higher estimate that takes no time, enough to tell that
    ///     a message is far below a limit.
    /// - Returns: `raw.count` for a raw message, else an estimate at least as large as
    ///   the rendered message.
    public static func estimatedSize(of message: EmailMessage, quickly: Bool = false) -> Int {
        if let raw = message.raw { return raw.count }

        var total = 1024
        let headerTexts =
            [message.from, message.subject].compactMap { $0 } + message.to + message.cc
            + message.replyTo + message.headers.flatMap { [$0.name, $0.value] }
        for text in headerTexts {
            total += 2 * text.utf8.count + 16
        }
        for body in [message.text, message.html].compactMap({ $0 }) {
            total +=
                (quickly
                    ? QuotedPrintable.worstEncodedLength(of: body.utf8.count)
                    : QuotedPrintable.encodedLengthBound(of: body)) + 256
        }
        for attachment in message.attachments {
            let encoded = Base64.encodedLength(of: attachment.data.count)
            total += encoded + (encoded / 76 + 1) * 2 + 512
            total += 6 * attachment.filename.utf8.count + attachment.contentType.utf8.count
        }
        return total
    }
}

// Reads the AWS shared credentials file (`~/.aws/credentials`).
//
// The format is INI as botocore reads it: `[name]` starts a profile, then
// `key = value` (or `key: value`) lines; `#` and `;` start comment lines;
// indented lines continue the previous key (nested values, which no
// credential key uses) and are skipped. A later section or key of the same
// name replaces the earlier one. Errors give the line number, never the
// line's text, which could hold a secret.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The profiles of a credentials file, each a map of lower-cased keys to values.
struct SharedCredentialsFile {
    /// Profile name to its keys and values.
    private(set) var profiles: [String: [String: String]] = [:]

    /// Parses the text of a credentials file read from `path` (used in error messages).
    init(parsing text: String, path: String) throws(AWSCredentialsError) {
        var section: String?
        var hasKey = false
        // `\r\n` is one Character, and a newline like `\n` and `\r`.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for (offset, line) in lines.enumerated() {
            let number = offset + 1
            let content = line.trimmingWhitespace
            if content.isEmpty || content.hasPrefix("#") || content.hasPrefix(";") { continue }

            if line.first == " " || line.first == "\t" {
                guard hasKey else {
                    throw .malformedLine(
                        path: path, line: number, reason: "indented line outside a key")
                }
                continue
            }
            if content.hasPrefix("[") {
                section = try Self.sectionName(content, path: path, line: number)
                profiles[section ?? "", default: [:]] = profiles[section ?? ""] ?? [:]
                hasKey = false
                continue
            }
            guard let current = section else {
                throw .malformedLine(
                    path: path, line: number, reason: "key outside a [profile] section")
            }
            guard let separator = content.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw .malformedLine(
                    path: path, line: number, reason: "expected [profile] or key = value")
            }
            let key = content[..<separator].trimmingWhitespace.lowercased()
            guard !key.isEmpty else {
                throw .malformedLine(path: path, line: number, reason: "empty key name")
            }
            profiles[current, default: [:]][key] = String(
                content[content.index(after: separator)...].trimmingWhitespace)
            hasKey = true
        }
    }

    private static func sectionName(
        _ content: Substring, path: String, line: Int
    ) throws(AWSCredentialsError) -> String {
        guard content.hasSuffix("]") else {
            throw .malformedLine(path: path, line: line, reason: "section header without ]")
        }
        let name = content.dropFirst().dropLast().trimmingWhitespace
        guard !name.isEmpty else {
            throw .malformedLine(path: path, line: line, reason: "empty section name")
        }
        return String(name)
    }

    /// Returns the whole file at `path`; `nil` if it does not exist and `missingIsError` is
    /// false.
    static func contents(path: String, missingIsError: Bool) throws(AWSCredentialsError) -> String?
    {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let error = errno
            if error == ENOENT && !missingIsError { return nil }
            throw .unreadableFile(path: path, errno: error)
        }
        defer { close(fd) }

        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw .unreadableFile(path: path, errno: errno) }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    /// The text without leading and trailing spaces and tabs.
    var trimmingWhitespace: Substring {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }),
            let last = lastIndex(where: { !isBlank($0) })
        else { return self[endIndex...] }
        return self[first...last]
    }
}

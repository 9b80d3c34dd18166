// One HTTP header field, as sent or received.

/// A header name and value; names compare case-insensitively where it matters.
public struct HTTPHeader: Sendable, Equatable {
    /// The field name as written, such as `Content-Type`.
    public var name: String
    /// The field value, without surrounding whitespace.
    public var value: String

    /// Creates a header.
    ///
    /// - Parameters:
    ///   - name: The field name.
    ///   - value: The field value.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

extension [HTTPHeader] {
    /// The value of the first header named `name`, compared case-insensitively.
    ///
    /// - Parameter name: The field name to look for.
    /// - Returns: Its value, or `nil` if absent.
    public func value(for name: String) -> String? {
        let wanted = name.lowercased()
        return first { $0.name.lowercased() == wanted }?.value
    }
}

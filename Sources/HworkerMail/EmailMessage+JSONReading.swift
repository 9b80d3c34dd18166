// Building an email from the tree `JSONValue.parse` reads, the way its
// `Decodable` conformance would, for the worker's hot path. Anything the
// conformance might treat differently (a value of another type, base64
// content) makes it give up, so that JSONDecoder decides.

extension EmailMessage {
    /// Builds a message from its wire form read by `JSONValue.parse`, the way its
    /// `Decodable` conformance would.
    ///
    /// - Parameter json: The `email` object of a job.
    /// - Returns: The message, or nil when the decoder has to decide: a value of an
    ///   unexpected type, or attachments and raw MIME (base64), which it decodes.
    public init?(json: JSONValue) {
        guard let members = json.members else { return nil }
        self.init()
        for (key, value) in members {
            if case .null = value { continue }
            switch key {
            case "from": guard let text = Self.text(value) else { return nil }; from = text
            case "to": guard let list = Self.texts(value) else { return nil }; to = list
            case "cc": guard let list = Self.texts(value) else { return nil }; cc = list
            case "bcc": guard let list = Self.texts(value) else { return nil }; bcc = list
            case "reply_to": guard let list = Self.texts(value) else { return nil }; replyTo = list
            case "subject": guard let text = Self.text(value) else { return nil }; subject = text
            case "text": guard let text = Self.text(value) else { return nil }; self.text = text
            case "html": guard let text = Self.text(value) else { return nil }; html = text
            case "configuration_set":
                guard let text = Self.text(value) else { return nil }
                configurationSet = text
            case "headers":
                guard let pairs = Self.pairs(value) else { return nil }
                headers = pairs.map { Header(name: $0.0, value: $0.1) }
            case "tags":
                guard let pairs = Self.pairs(value) else { return nil }
                tags = pairs.map { Tag(name: $0.0, value: $0.1) }
            case "attachments", "raw": return nil
            default: continue
            }
        }
    }

    private static func text(_ value: JSONValue) -> String? {
        if case .string(let text) = value { return text }
        return nil
    }

    private static func texts(_ value: JSONValue) -> [String]? {
        guard case .array(let elements) = value else { return nil }
        var list: [String] = []
        list.reserveCapacity(elements.count)
        for element in elements {
            guard case .string(let text) = element else { return nil }
            list.append(text)
        }
        return list
    }

    /// A list of `{"name": ..., "value": ...}` objects (other keys ignored).
    private static func pairs(_ value: JSONValue) -> [(String, String)]? {
        guard case .array(let elements) = value else { return nil }
        var list: [(String, String)] = []
        for element in elements {
            guard let members = element.members,
                let name = members.first(where: { $0.0 == "name" }).flatMap({ text($0.1) }),
                let value = members.first(where: { $0.0 == "value" }).flatMap({ text($0.1) })
            else { return nil }
            list.append((name, value))
        }
        return list
    }
}

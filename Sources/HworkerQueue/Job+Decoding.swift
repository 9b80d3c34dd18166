// Turning the bytes a worker took from the queue into a job, or into the
// reason they are not one. Anything can be in the queue: other programs push
// to it, so every failure here becomes a dead letter, never a crash.

import FoundationEssentials

/// Why bytes taken from the queue are not a job.
public struct MalformedJob: Error, Sendable, CustomStringConvertible {
    /// What is wrong, naming the field where possible.
    public let reason: String

    /// The reason, prefixed for logs and dead letters.
    public var description: String { "malformed job: \(reason)" }
}

extension Job {
    private struct Wire: Decodable {
        var id: String?
        var email: EmailMessage
        var payload: String?
    }

    /// Decodes a job from its wire form.
    ///
    /// - Parameter raw: The bytes taken from the queue.
    /// - Returns: The job; a job without an id gets one derived from its bytes.
    /// - Throws: `MalformedJob` naming the field that is wrong.
    public static func decode(_ raw: [UInt8]) throws(MalformedJob) -> Job {
        guard String(validating: raw, as: UTF8.self) != nil else {
            throw MalformedJob(reason: "not valid UTF-8 (\(raw.count) bytes)")
        }
        if let job = fastDecode(raw) { return job }
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(raw))
        } catch let error as DecodingError {
            throw MalformedJob(reason: Self.explain(error))
        } catch {
            throw MalformedJob(reason: "\(error)")
        }
        let id = wire.id ?? derivedID(raw)
        guard !id.isEmpty, id.utf8.count <= 200, !id.contains(where: \.isNewline) else {
            throw MalformedJob(reason: "id: must be 1 to 200 characters on one line")
        }
        return Job(id: id, email: wire.email, payload: wire.payload)
    }

    /// Decodes a well-formed job without JSONDecoder (see `JSONValue`).
    ///
    /// - Parameter raw: The job's bytes, valid UTF-8.
    /// - Returns: The job, or nil when JSONDecoder has to decide.
    private static func fastDecode(_ raw: [UInt8]) -> Job? {
        guard let members = JSONValue.parse(raw)?.members else { return nil }
        var id: String?
        var email: EmailMessage?
        var payload: String?
        for (key, value) in members {
            switch (key, value) {
            case ("id", .string(let text)): id = text
            case ("payload", .string(let text)): payload = text
            case ("email", _):
                guard let message = EmailMessage(json: value) else { return nil }
                email = message
            case ("id", .null), ("payload", .null): continue
            case ("id", _), ("payload", _): return nil
            default: continue
            }
        }
        guard let email else { return nil }
        let jobID = id ?? derivedID(raw)
        guard !jobID.isEmpty, jobID.utf8.count <= 200, !jobID.contains(where: \.isNewline) else {
            return nil
        }
        return Job(id: jobID, email: email, payload: payload)
    }

    /// Encodes the job in its wire form.
    /// `id` comes first, so that Redis scripts and `stats` read it without decoding the rest.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + (email.text?.utf8.count ?? 0) + (email.html?.utf8.count ?? 0))
        var object = JSONObjectWriter(&out)
        object.member("id", id, &out)
        object.key("email", &out)
        email.appendJSON(to: &out)
        object.member("payload", payload, &out)
        object.finish(&out)
        return out
    }

    private static func explain(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])): missing"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(describe(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(describe(type)), found null"
        case .dataCorrupted(let context):
            let place = context.codingPath.isEmpty ? "" : path(context.codingPath) + ": "
            return place + "not valid JSON or bad value (\(context.debugDescription))"
        @unknown default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text.isEmpty ? "job" : text
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is [Any].Type: return "a list"
        default: return type == [String: Any].self ? "an object" : "\(type)"
        }
    }

    /// The id to file bytes that are not a valid job under: their `id` when they
    /// are a JSON object with a usable one, else the derived id.
    ///
    /// - Parameter raw: The bytes taken from the queue.
    /// - Returns: The id for the dead letter.
    public static func bestID(_ raw: [UInt8]) -> String {
        struct IDOnly: Decodable { var id: String? }
        if let found = try? JSONDecoder().decode(IDOnly.self, from: Data(raw)).id, !found.isEmpty,
            found.utf8.count <= 200, !found.contains(where: \.isNewline)
        {
            return found
        }
        return derivedID(raw)
    }

    /// The id of a job pushed without one, or of bytes that are not a job:
    /// `auto-` and a digest of the bytes, so the same bytes always get the same id.
    ///
    /// - Parameter raw: The bytes taken from the queue.
    /// - Returns: The derived id.
    public static func derivedID(_ raw: [UInt8]) -> String {
        "auto-" + digest(raw)
    }

    /// A 64-bit FNV-1a digest in hex.
    static func digest(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

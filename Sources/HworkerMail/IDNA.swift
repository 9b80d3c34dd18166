// Internationalized domain names in their ASCII form (RFC 3492 punycode).
//
// SES wants the domain of every address in ASCII, so a label such as
// `bücher` travels as `xn--bcher-kva`. Only the encoding direction exists:
// nothing here ever reads punycode. Labels are lower-cased before encoding,
// which stands in for IDNA's full mapping step (nameprep/UTS 46); names that
// need more than lower-casing to map are rare, and SES rejects a wrong
// mapping instead of delivering it to the wrong place.

/// Converts domain names to their ASCII-compatible form.
public enum IDNA {
    /// Returns `domain` with every non-ASCII label lower-cased and punycode-encoded.
    ///
    /// ASCII labels are left exactly as they are.
    ///
    /// - Parameter domain: A domain name, such as `bücher.example`.
    /// - Returns: The ASCII form, such as `xn--bcher-kva.example`.
    public static func asciiDomain(_ domain: String) -> String {
        domain.split(separator: ".", omittingEmptySubsequences: false)
            .map { label in
                if label.allSatisfy(\.isASCII) { return String(label) }
                return "xn--" + Punycode.encode(label.lowercased())
            }
            .joined(separator: ".")
    }
}

/// The Bootstring encoding with punycode's parameters (RFC 3492).
enum Punycode {
    private static let base = 36
    private static let tMin = 1
    private static let tMax = 26
    private static let skew = 38
    private static let damp = 700
    private static let initialBias = 72
    private static let initialN = 128

    /// Encodes one label, without the `xn--` prefix.
    ///
    /// Labels are at most a few dozen scalars long, so the arithmetic cannot overflow
    /// an `Int`.
    static func encode(_ label: String) -> String {
        let input = label.unicodeScalars.map { Int($0.value) }
        var output = input.filter { $0 < 0x80 }.map { Character(Unicode.Scalar(UInt8($0))) }
        let basicCount = output.count
        if basicCount > 0 { output.append("-") }

        var n = initialN
        var delta = 0
        var bias = initialBias
        var handled = basicCount
        while handled < input.count {
            let next = input.filter { $0 >= n }.min() ?? n
            delta += (next - n) * (handled + 1)
            n = next
            for code in input {
                if code < n { delta += 1 }
                guard code == n else { continue }
                output.append(contentsOf: digits(for: delta, bias: bias))
                bias = adapt(delta: delta, points: handled + 1, first: handled == basicCount)
                delta = 0
                handled += 1
            }
            delta += 1
            n += 1
        }
        return String(output)
    }

    /// The variable-length digits that encode `delta`.
    private static func digits(for delta: Int, bias: Int) -> [Character] {
        var result: [Character] = []
        var q = delta
        var k = base
        while true {
            let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
            if q < t { break }
            result.append(digit(t + (q - t) % (base - t)))
            q = (q - t) / (base - t)
            k += base
        }
        result.append(digit(q))
        return result
    }

    private static func adapt(delta: Int, points: Int, first: Bool) -> Int {
        var d = first ? delta / damp : delta / 2
        d += d / points
        var k = 0
        while d > ((base - tMin) * tMax) / 2 {
            d /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * d / (d + skew)
    }

    private static func digit(_ value: Int) -> Character {
        let ascii = value < 26 ? 0x61 + value : 0x30 + value - 26
        return Character(Unicode.Scalar(UInt8(ascii)))
    }
}

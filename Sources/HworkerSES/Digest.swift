// SHA-256 and HMAC-SHA256 from OpenSSL's libcrypto, for SigV4.
//
// Both are OpenSSL's one-shot functions: no context objects to free, and safe
// to call from any thread.

import CCrypto

/// Hashing helpers over byte arrays.
enum Digest {
    /// The SHA-256 digest of `bytes`.
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        withNonNullPointer(bytes) { pointer in
            _ = SHA256(pointer, bytes.count, &digest)
        }
        return digest
    }

    /// HMAC-SHA256 of `data` under `key`.
    static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        withNonNullPointer(key) { keyPointer in
            withNonNullPointer(data) { dataPointer in
                _ = HMAC(
                    EVP_sha256(), keyPointer, Int32(key.count), dataPointer, data.count, &digest,
                    &length)
            }
        }
        return Array(digest.prefix(Int(length)))
    }

    /// Lower-case hexadecimal.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Calls `body` with a pointer that is never null, even for an empty array, because
    /// OpenSSL treats a null buffer differently from an empty one in places.
    private static func withNonNullPointer(
        _ bytes: [UInt8], _ body: (UnsafePointer<UInt8>) -> Void
    ) {
        var placeholder: UInt8 = 0
        if bytes.isEmpty {
            body(&placeholder)
            return
        }
        bytes.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { body(base) }
        }
    }
}

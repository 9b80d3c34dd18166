// Runs the repository's Python helper scripts (scripts/*.py) from tests.
//
// python3 comes from PATH. Input is written from a separate thread so that a
// script that writes while it reads cannot deadlock the test.

import Foundation

/// A helper script under `scripts/`.
public enum PythonScript {
    /// The repository's `scripts` directory, found from this file's path.
    public static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts")

    /// A script that exited with a failure status.
    public struct Failure: Error, CustomStringConvertible {
        /// The script's file name.
        public var script: String
        /// Its exit status.
        public var status: Int32
        /// What it wrote to standard error.
        public var stderr: String
        /// The three together.
        public var description: String { "\(script) exited with \(status): \(stderr)" }
    }

    /// Runs `scripts/<name>` with `arguments`, feeding it `input`; returns its stdout.
    public static func run(_ name: String, _ arguments: [String] = [], input: [UInt8] = []) throws
        -> [UInt8]
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", directory.appendingPathComponent(name).path] + arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()

        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let errors = LockedData()
        let errorReader = Thread {
            errors.set(stderr.fileHandleForReading.readDataToEndOfFile())
        }
        errorReader.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errors.isSet { usleep(1000) }

        guard process.terminationStatus == 0 else {
            throw Failure(
                script: name, status: process.terminationStatus,
                stderr: String(decoding: errors.data, as: UTF8.self))
        }
        return [UInt8](output)
    }
}

/// Data handed from a reader thread to the test.
final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Data?

    var isSet: Bool { lock.withLock { value != nil } }
    var data: Data { lock.withLock { value ?? Data() } }
    func set(_ data: Data) { lock.withLock { value = data } }
}

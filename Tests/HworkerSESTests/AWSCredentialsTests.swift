import Foundation
import HworkerSES
import Testing

@Suite struct AWSCredentialsTests {
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRET"
    static let token = "FwoGZXIvYXdzEXAMPLETOKEN"

    /// A scratch directory with a credentials file; removed by the caller.
    final class Scratch {
        let directory: URL

        init() throws {
            directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("hworker-creds-\(UUID().uuidString)")
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(at: directory) }

        func write(_ name: String, _ text: String) throws -> String {
            let url = directory.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            return url.path
        }
    }

    @Test func textualFormsNeverShowTheSecretOrToken() {
        let credentials = AWSCredentials(
            accessKeyId: "AKIAEXAMPLE", secretAccessKey: Self.secret, sessionToken: Self.token)
        var dumped = ""
        dump(credentials, to: &dumped)
        let forms = [
            credentials.description, credentials.debugDescription, "\(credentials)",
            String(reflecting: credentials), dumped, "\([credentials])",
            String(describing: Optional(credentials)),
        ]
        for form in forms {
            #expect(!form.contains(Self.secret), "\(form)")
            #expect(!form.contains(Self.token), "\(form)")
            #expect(form.contains("AKIAEXAMPLE"))
        }
        #expect(credentials.description.contains("<redacted>"))
    }

    @Test func explicitValuesComeFirst() throws {
        let resolved = try AWSCredentials.resolve(
            accessKeyId: "AKIDEXPLICIT", secretAccessKey: "s", sessionToken: "t",
            environment: ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "e"])
        #expect(resolved.source == .explicit)
        #expect(
            resolved.credentials
                == AWSCredentials(
                    accessKeyId: "AKIDEXPLICIT", secretAccessKey: "s", sessionToken: "t"))
    }

    @Test func halfAnExplicitKeyIsAnError() {
        #expect(throws: AWSCredentialsError.incompleteExplicit(missing: "secretAccessKey")) {
            try AWSCredentials.resolve(accessKeyId: "AKID", environment: [:])
        }
        #expect(throws: AWSCredentialsError.incompleteExplicit(missing: "accessKeyId")) {
            try AWSCredentials.resolve(secretAccessKey: "s", environment: [:])
        }
    }

    @Test func environmentComesBeforeTheFile() throws {
        let scratch = try Scratch()
        let file = try scratch.write(
            "credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = f\n")
        let resolved = try AWSCredentials.resolve(
            environment: [
                "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "e",
                "AWS_SESSION_TOKEN": "tok",
                "AWS_SHARED_CREDENTIALS_FILE": file,
            ])
        #expect(resolved.source == .environment)
        #expect(resolved.credentials.sessionToken == "tok")
    }

    @Test func halfAKeyInTheEnvironmentIsAnError() {
        #expect(throws: AWSCredentialsError.incompleteEnvironment(missing: "AWS_SECRET_ACCESS_KEY"))
        {
            try AWSCredentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "AKID"])
        }
    }

    @Test func sharedFileProfilesAreRead() throws {
        let scratch = try Scratch()
        let text = """
            # comment
            ; another comment
            [default]
            aws_access_key_id = AKIDDEFAULT
            aws_secret_access_key = d

            [ses-prod]
            aws_access_key_id=AKIDPROD
            aws_secret_access_key: p
            aws_session_token = ptoken\r
            region = eu-west-1
            s3 =
              max_concurrent_requests = 10
            """
        let file = try scratch.write("credentials", text)

        let byDefault = try AWSCredentials.resolve(environment: [
            "AWS_SHARED_CREDENTIALS_FILE": file
        ])
        #expect(byDefault.credentials.accessKeyId == "AKIDDEFAULT")
        #expect(byDefault.source == .sharedFile(path: file, profile: "default"))

        let byEnvironment = try AWSCredentials.resolve(
            environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "ses-prod"])
        #expect(
            byEnvironment.credentials
                == AWSCredentials(
                    accessKeyId: "AKIDPROD", secretAccessKey: "p", sessionToken: "ptoken"))

        let byParameter = try AWSCredentials.resolve(
            environment: ["AWS_PROFILE": "default"], credentialsFile: file, profile: "ses-prod")
        #expect(byParameter.credentials.accessKeyId == "AKIDPROD")
    }

    @Test func configuredProfileWinsOverTheEnvironment() throws {
        let scratch = try Scratch()
        let file = try scratch.write(
            "c", "[p]\naws_access_key_id = AKIDFILE\naws_secret_access_key = f\n")
        let resolved = try AWSCredentials.resolve(
            environment: ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "e"],
            credentialsFile: file, profile: "p")
        #expect(resolved.credentials.accessKeyId == "AKIDFILE")
    }

    @Test func defaultFileIsUnderHome() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(
            at: scratch.directory.appendingPathComponent(".aws"), withIntermediateDirectories: true)
        _ = try scratch.write(
            ".aws/credentials", "[default]\naws_access_key_id=AKIDHOME\naws_secret_access_key=h\n")
        let resolved = try AWSCredentials.resolve(environment: ["HOME": scratch.directory.path])
        #expect(resolved.credentials.accessKeyId == "AKIDHOME")

        let tilde = try AWSCredentials.resolve(
            environment: ["HOME": scratch.directory.path], credentialsFile: "~/.aws/credentials")
        #expect(tilde.credentials.accessKeyId == "AKIDHOME")
    }

    @Test func nothingAnywhereListsWhatWasTried() throws {
        let scratch = try Scratch()
        let error = #expect(throws: AWSCredentialsError.self) {
            try AWSCredentials.resolve(environment: [
                "HOME": scratch.directory.path, "AWS_PROFILE": "x",
            ])
        }
        guard case .notFound(let searched) = error else {
            Issue.record("expected notFound, got \(String(describing: error))")
            return
        }
        #expect(searched.last == "\(scratch.directory.path)/.aws/credentials [x]")
        #expect(error?.description.hasPrefix("no AWS credentials found (tried: explicit") == true)
    }

    @Test func missingExplicitFileIsAnError() {
        #expect(
            throws: AWSCredentialsError.unreadableFile(path: "/nonexistent/creds", errno: ENOENT)
        ) {
            try AWSCredentials.resolve(environment: [
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/creds"
            ])
        }
    }

    @Test func missingProfileOrKeyIsNamed() throws {
        let scratch = try Scratch()
        let file = try scratch.write("c", "[a]\naws_access_key_id = AKID\n")
        #expect(throws: AWSCredentialsError.profileNotFound(profile: "b", path: file)) {
            try AWSCredentials.resolve(environment: [:], credentialsFile: file, profile: "b")
        }
        #expect(
            throws: AWSCredentialsError.incompleteProfile(
                profile: "a", path: file, missing: "aws_secret_access_key")
        ) {
            try AWSCredentials.resolve(environment: ["AWS_PROFILE": "a"], credentialsFile: file)
        }
    }

    @Test(arguments: [
        ("[default]\nthis line holds \(secret)\n", 2, "expected [profile] or key = value"),
        ("aws_secret_access_key = \(secret)\n", 1, "key outside a [profile] section"),
        ("\n\n[default\n", 3, "section header without ]"),
        ("[ ]\n", 1, "empty section name"),
        ("[d]\n= \(secret)\n", 2, "empty key name"),
        ("  indented = \(secret)\n", 1, "indented line outside a key"),
    ])
    func parseErrorsGiveTheLineButNotItsText(text: String, line: Int, reason: String) throws {
        let scratch = try Scratch()
        let file = try scratch.write("c", text)
        let error = #expect(throws: AWSCredentialsError.self) {
            try AWSCredentials.resolve(environment: [:], credentialsFile: file)
        }
        #expect(error == .malformedLine(path: file, line: line, reason: reason))
        #expect(error?.description == "\(file):\(line): \(reason)")
        #expect(error?.description.contains(Self.secret) == false)
    }
}

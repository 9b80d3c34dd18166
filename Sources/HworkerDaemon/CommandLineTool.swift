// The `hworker-ses` command: run the master, check a configuration, enqueue
// jobs, and the operator's tools (stats, dead letters, pause and resume).
// Exit codes: 0 success, 1 failure at run time, 2 bad usage or bad input,
// 78 bad configuration.

import FoundationEssentials
import Glibc
import HworkerQueue
import HworkerRedis

/// The command-line entry point.
public enum CommandLineTool {
    /// Exit code for bad usage or input.
    static let exitUsage: Int32 = 2

    static let usage = """
        usage: hworker-ses <command> [options]

        commands:
          run --config FILE            start the master with its workers and monitors
              [--log-format json]      (overrides log_format of the file)
                                       (TERM/INT drain, QUIT terminates, HUP reloads,
                                       TTIN/TTOU add/remove a worker, USR1 reopens logs)
          check-config FILE            validate a configuration file and exit
          enqueue --config FILE ...    validate and enqueue one email (see `enqueue --help`)
          stats --config FILE          queue lengths, counters, workers [--json] [--watch [SECONDS]]
          dead SUBCOMMAND --config FILE
                                       list, show, retry or purge dead letters (`dead --help`)
          pause --config FILE          stop sending on every server [--reason TEXT]
          resume --config FILE         start sending again
          version                      print the version

        enqueue, stats, dead, pause and resume also take --queue NAME and --redis ADDR

        """

    /// Runs the command given by `arguments` (without the program name).
    ///
    /// - Parameter arguments: The command line after the program name.
    /// - Returns: The process exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        guard let command = arguments.first else {
            printError(usage)
            return exitUsage
        }
        let rest = Array(arguments.dropFirst())
        switch command {
        case "run": return runMaster(rest)
        case "check-config": return checkConfig(rest)
        case "enqueue": return EnqueueCommand.main(rest)
        case "stats": return StatsCommand.main(rest)
        case "dead": return DeadCommand.main(rest)
        case "pause": return PauseCommand.pause(rest)
        case "resume": return PauseCommand.resume(rest)
        case "child": return ChildMain.run(role: rest.first ?? "")
        case "version", "--version": return printOut("hworker-ses \(version)\n")
        case "help", "--help", "-h": return printOut(usage)
        default:
            printError("hworker-ses: unknown command \"\(command)\"\n\n" + usage)
            return exitUsage
        }
    }

    static let runHelp = """
        usage: hworker-ses run --config FILE [--log-format logfmt|json]

        Starts the master, which starts the configured workers and monitors and
        restarts them when they die.

        signals to the master:
          TERM, INT   drain: workers stop taking jobs and finish the send in hand;
                      after drain_deadline they are killed and their jobs returned
                      to the queue
          QUIT        terminate: children give their jobs back and exit; a send in
                      progress is killed after 5 s and its job returned
          HUP         reload: the file is validated first; an invalid file is logged
                      and the running configuration kept; rate, burst and logging
                      change live, anything else starts a new generation and drains
                      the old one once the new one is ready
          TTIN, TTOU  one worker more / less (never fewer than one)
          USR1        reopen the log file (for logrotate)

        exit codes:
          0    drained or terminated cleanly
          1    cannot start (pidfile held by another master, shared memory), or
               gave up on children that keep failing to start
          2    bad usage
          78   bad configuration (file, line and key on standard error)

        """

    /// The version printed by `hworker-ses version`.
    public static let version = "0.1.0"

    private static func runMaster(_ arguments: [String]) -> Int32 {
        var options = OptionReader(arguments)
        if options.flag("--help") { return printOut(runHelp) }
        let path = options.value("--config") ?? options.positional()
        let format = options.value("--log-format")
        guard let path, options.unknown.isEmpty else {
            printError("usage: hworker-ses run --config FILE [--log-format logfmt|json]\n")
            return exitUsage
        }
        var formatOverride: LogFormat?
        if let format {
            guard let parsed = LogFormat(rawValue: format) else {
                printError(
                    "hworker-ses run: --log-format: expected logfmt or json, got \"\(format)\"\n")
                return exitUsage
            }
            formatOverride = parsed
        }
        // Block the master's signals before anything can start a thread.
        let signals: SignalReceiver
        do {
            signals = try SignalReceiver(signals: Master.handledSignals)
        } catch {
            printError("hworker-ses: \(error)\n")
            return 1
        }
        var config: Configuration
        do {
            config = try loadResolved(path, warnAboutSecrets: true)
        } catch {
            printError("hworker-ses: \(error)\n")
            return exitConfigError
        }
        if let formatOverride { config.logFormat = formatOverride }
        return Master(
            config: config, configPath: path, signals: signals, logFormatOverride: formatOverride
        ).run()
    }

    private static func checkConfig(_ arguments: [String]) -> Int32 {
        var options = OptionReader(arguments)
        guard let path = options.value("--config") ?? options.positional(), options.unknown.isEmpty
        else {
            printError("usage: hworker-ses check-config FILE\n")
            return exitUsage
        }
        do {
            let config = try loadResolved(path, warnAboutSecrets: true)
            let summary =
                "queue \(config.queue), \(config.workers) workers, rate \(config.rateDescription)"
            return printOut("\(path): ok (\(summary))\n")
        } catch {
            printError("hworker-ses: \(error)\n")
            return exitConfigError
        }
    }

    /// Loads a configuration file and resolves its credentials; errors name the file.
    /// With `warnAboutSecrets`, warns when the file itself holds a secret and other
    /// users can read it (credentials from the environment do not count).
    static func loadResolved(_ path: String, warnAboutSecrets: Bool = false) throws
        -> Configuration
    {
        let config = try ConfigParser.load(path: path)
        if warnAboutSecrets { warnIfReadableByOthers(path, config) }
        do {
            return try CredentialResolver.resolve(config)
        } catch {
            throw ConfigError(file: path, line: 0, key: nil, reason: error.description)
        }
    }

    /// Warns when a file holding secrets (as written, before credentials are resolved)
    /// can be read by other users.
    private static func warnIfReadableByOthers(_ path: String, _ config: Configuration) {
        let hasSecret = config.redisPassword != nil || config.awsSecretAccessKey != nil
        var status = stat()
        guard hasSecret, stat(path, &status) == 0, status.st_mode & 0o044 != 0 else { return }
        printError(
            "hworker-ses: warning: \(path) holds secrets and is readable by other users"
                + " (chmod 600 it)\n")
    }

    @discardableResult
    static func printOut(_ text: String) -> Int32 {
        writeAll(1, Array(text.utf8))
        return 0
    }

    static func printError(_ text: String) {
        writeAll(2, Array(text.utf8))
    }

}

/// A minimal reader of `--name value` options and positional arguments.
struct OptionReader {
    private var arguments: [String]

    init(_ arguments: [String]) {
        self.arguments = arguments
    }

    /// Removes and returns the value of the last `--name value` or `--name=value`.
    mutating func value(_ name: String) -> String? {
        values(name).last
    }

    /// Removes and returns every value of a repeatable option.
    mutating func values(_ name: String) -> [String] {
        var found: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == name, index + 1 < arguments.count {
                found.append(arguments[index + 1])
                arguments.removeSubrange(index...(index + 1))
            } else if argument.hasPrefix(name + "=") {
                found.append(String(argument.dropFirst(name.count + 1)))
                arguments.remove(at: index)
            } else {
                index += 1
            }
        }
        return found
    }

    /// Removes a flag and tells whether it was there.
    mutating func flag(_ name: String) -> Bool {
        guard let index = arguments.firstIndex(of: name) else { return false }
        arguments.remove(at: index)
        return true
    }

    /// Removes and returns the first argument that is not an option.
    mutating func positional() -> String? {
        guard let index = arguments.firstIndex(where: { !$0.hasPrefix("--") }) else { return nil }
        return arguments.remove(at: index)
    }

    /// What is left: options nobody asked for.
    var unknown: [String] { arguments }
}

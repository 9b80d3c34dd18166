// `hworker-ses pause` and `hworker-ses resume`: set or clear the flag that
// stops workers on every server from taking jobs. Producers keep
// enqueueing, and delayed jobs still move to the queue when due; sending
// picks up where it left off on `resume`.

import HworkerQueue

/// The `pause` and `resume` commands.
enum PauseCommand {
    static let pauseHelp = """
        usage: hworker-ses pause \(QueueCommand.commonOptions) [--reason TEXT]

        Workers on every server finish the job in hand and take no more until
        `hworker-ses resume`; enqueueing continues. The reason shows in `stats`.

        """

    static let resumeHelp = """
        usage: hworker-ses resume \(QueueCommand.commonOptions)

        Lets workers take jobs again after `hworker-ses pause`.

        """

    /// Runs `pause`.
    ///
    /// - Parameter arguments: The command line after `pause`.
    /// - Returns: The exit code.
    static func pause(_ arguments: [String]) -> Int32 {
        QueueCommand.run("pause") {
            var options = OptionReader(arguments)
            if options.flag("--help") { return CommandLineTool.printOut(pauseHelp) }
            let reason = options.value("--reason")
            let queue = try QueueCommand.open(&options)
            try QueueCommand.rejectUnknown(options)
            let previous = try queue.pauseState()
            let state = try queue.pause(reason: reason)
            var text = "paused sending on queue \(queue.keys.name)"
            if let reason = state.reason { text += " (reason: \(reason))" }
            if previous != nil {
                text += "; it was already paused, the reason and time are replaced"
            }
            text += "\nworkers finish the job in hand and take no more; enqueueing continues\n"
            return CommandLineTool.printOut(text)
        }
    }

    /// Runs `resume`.
    ///
    /// - Parameter arguments: The command line after `resume`.
    /// - Returns: The exit code.
    static func resume(_ arguments: [String]) -> Int32 {
        QueueCommand.run("resume") {
            var options = OptionReader(arguments)
            if options.flag("--help") { return CommandLineTool.printOut(resumeHelp) }
            let queue = try QueueCommand.open(&options)
            try QueueCommand.rejectUnknown(options)
            guard let ended = try queue.resume() else {
                return CommandLineTool.printOut(
                    "queue \(queue.keys.name) was not paused; nothing changed\n")
            }
            var text = "resumed sending on queue \(queue.keys.name)"
            if let since = ended.pausedAt { text += " (paused since \(QueueCommand.time(since)))" }
            return CommandLineTool.printOut(text + "\n")
        }
    }
}

import Glibc
import HworkerDaemon

exit(CommandLineTool.main(Array(CommandLine.arguments.dropFirst())))

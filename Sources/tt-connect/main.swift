import TTCommandLine
import TTCommandSupport

CommandRunner.main(TTConnectCommand.self, usageReport: TTConnectCommand.usageJSON)

import TTCommandLine
import TTCommandSupport

CommandRunner.main(TTPingCommand.self)

import TTCommandLine

CommandRunner.main(TTPingCommand.self)

import TTCommandLine

CommandRunner.main(TTConnectCommand.self)

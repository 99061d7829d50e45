import Glibc
import TTCommandSupport

/// Asks for a missing password on the terminal, without echo.
///
/// Only a terminal on standard input is asked: a script or a pipe (`tt-connect pipe` reads its data from
/// standard input) gets a usage error telling it to give the password in the argument instead.
enum PasswordPrompt {
    /// Prompts with `prompt` on standard error and reads one line from the terminal.
    /// - Throws: ``CommandFailure`` (usage) when standard input is not a terminal; `hint` says what to give.
    static func read(prompt: String, hint: String) throws(CommandFailure) -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            throw .usage("\(hint), and standard input is not a terminal to ask for it")
        }
        Console.write(prompt, to: STDERR_FILENO)
        var original = termios()
        tcgetattr(STDIN_FILENO, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
            Console.write("\n", to: STDERR_FILENO)
        }
        guard let line = readLine(strippingNewline: true) else {
            throw .usage("\(hint); no password was entered")
        }
        return line
    }
}

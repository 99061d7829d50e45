import TTCommandSupport

extension PasswordPrompt {
    /// Asks for a missing password (``PasswordPrompt/read(prompt:confirm:environment:)``).
    /// - Throws: ``CommandFailure`` (usage) when nobody can be asked; `hint` says where else it can come from.
    static func read(prompt: String, hint: String) throws(CommandFailure) -> String {
        do {
            return try read(prompt: prompt)
        } catch {
            throw .usage("\(hint)\(error.explanation)")
        }
    }
}

extension PasswordPrompt.Failure {
    /// The end of a message that starts with what is missing.
    var explanation: String {
        switch self {
        case .noTerminal:
            ", and there is no terminal to ask for it (standard input is not a terminal, /dev/tty cannot be "
                + "opened and SSH_ASKPASS is not set)"
        case .nothingEntered: "; no password was entered"
        case .askpassFailed(let reason): "; \(reason)"
        case .confirmationDiffers: "; the two passwords entered differ"
        }
    }
}

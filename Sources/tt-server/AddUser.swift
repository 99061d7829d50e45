import ArgumentParser
import Glibc
import TTCommandSupport
import TTProtocol
import TTServer

/// `tt-server add-user NAME --users FILE`: add a user, or change their password.
struct AddUser: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-user",
        abstract: "Add a user to a users file, or change their password.",
        discussion: """
            The password is read from standard input (its first line), or, when standard input is a terminal, \
            prompted for twice without echo (the two must match). It is never printed. The file is created with mode 0600 if needed.
            """
    )

    @Argument(help: "The user name (no ':' or whitespace).")
    var name: String

    @Option(help: ArgumentHelp("The users file to update.", valueName: "FILE"))
    var users: String

    @Option(help: ArgumentHelp("PBKDF2 iterations.", valueName: "COUNT"))
    var iterations = PasswordHash.defaultIterations

    func validate() throws {
        guard iterations > 0 else { throw ValidationError("--iterations must be positive, not \(iterations)") }
        guard iterations <= PasswordHash.maxIterations else {
            throw ValidationError("--iterations must be at most \(PasswordHash.maxIterations), not \(iterations)")
        }
    }

    /// The new password: typed twice on a terminal, else the first line of standard input.
    private func readPassword() throws -> String {
        var password: String?
        if isatty(STDIN_FILENO) == 1 {
            do {
                password = try PasswordPrompt.read(prompt: "Password for \(name): ", confirm: "Again, to confirm: ")
            } catch PasswordPrompt.Failure.confirmationDiffers {
                printError("the two passwords entered differ; nothing changed in \(users)")
                throw ExitCode(ExitStatus.usage)
            } catch {
                password = nil
            }
        } else {
            password = readLine(strippingNewline: true)
        }
        guard let password, !password.isEmpty else {
            printError("no password given on standard input; nothing changed in \(users)")
            throw ExitCode(ExitStatus.usage)
        }
        return password
    }

    func run() throws {
        let password = try readPassword()
        let added: Bool
        do {
            added = try UserDirectory.addUser(name, password: password, toFileAt: users, iterations: iterations)
        } catch {
            printError("\(error)")
            throw ExitCode(ExitStatus.usage)
        }
        printLine(added ? "added user \(name) to \(users)" : "changed the password of \(name) in \(users)")
        // The file was replaced by a rename, so a running server still holds the old one until it reads it again.
        let servers = RunningServers.using(usersFile: users)
        if servers.isEmpty {
            printLine(
                "no running tt-server on this machine was found using \(users); a tt-server reads it when it "
                    + "starts and again on SIGHUP"
            )
        } else {
            let pids = servers.map(String.init).joined(separator: " ")
            printLine(
                "tt-server (pid \(pids)) uses \(users) and checks logins against the old contents until it reads it "
                    + "again: run `kill -HUP \(pids)`"
            )
        }
    }
}

import TTServer
import Testing

@Suite("Default identity location")
struct IdentityLocationTests {
    @Test("systemd's STATE_DIRECTORY comes first, its first entry if it lists several")
    func stateDirectory() {
        #expect(
            IdentityLocation.defaultPath(
                environment: ["STATE_DIRECTORY": "/var/lib/tt-server", "HOME": "/root"],
                userID: 0
            )
                == "/var/lib/tt-server/identity.pem"
        )
        #expect(
            IdentityLocation.defaultPath(environment: ["STATE_DIRECTORY": "/srv/a:/srv/b"], userID: 1000)
                == "/srv/a/identity.pem"
        )
    }

    @Test("root without systemd: /var/lib/tt-server")
    func root() {
        #expect(
            IdentityLocation.defaultPath(environment: ["HOME": "/root"], userID: 0) == "/var/lib/tt-server/identity.pem"
        )
    }

    @Test("another user: XDG_STATE_HOME, else ~/.local/state; never the current directory")
    func user() {
        #expect(
            IdentityLocation.defaultPath(
                environment: ["HOME": "/home/ann", "XDG_STATE_HOME": "/x/state"],
                userID: 1000
            )
                == "/x/state/tt-server/identity.pem"
        )
        #expect(
            IdentityLocation.defaultPath(environment: ["HOME": "/home/ann"], userID: 1000)
                == "/home/ann/.local/state/tt-server/identity.pem"
        )
        // Relative values are ignored (the XDG specification says so): they would depend on the directory again.
        #expect(
            IdentityLocation.defaultPath(environment: ["HOME": "/home/ann", "XDG_STATE_HOME": "state"], userID: 1000)
                == "/home/ann/.local/state/tt-server/identity.pem"
        )
        #expect(IdentityLocation.defaultPath(environment: [:], userID: 1000) == nil)
    }
}

import NIOConcurrencyHelpers
import TTProtocol

/// The users a running server checks logins against, replaceable while it runs (`SIGHUP` reloads the users file):
/// a login already being checked finishes against the directory it started with, every later one sees the new.
public final class UserStore: Sendable {
    private let directory: NIOLockedValueBox<UserDirectory>

    /// A store holding `directory`.
    public init(_ directory: UserDirectory) {
        self.directory = NIOLockedValueBox(directory)
    }

    /// The directory logins are checked against right now.
    public var current: UserDirectory { directory.withLockedValue { $0 } }

    /// What `SIGHUP` does with a freshly read users file: like ``replace(with:)``, except that a file that would
    /// take every user away is refused unless it says so with a `# empty` line, so a truncated or half-written
    /// file cannot silently lock everyone out.
    /// - Throws: ``UsersReloadRefused`` when users would drop to zero without `# empty`; the old ones stay.
    public func reload(with new: UserDirectory) throws(UsersReloadRefused) -> UserDirectory.Changes {
        let outcome = directory.withLockedValue { old -> Result<UserDirectory.Changes, UsersReloadRefused> in
            let changes = new.changes(since: old)
            if changes.users == 0, changes.previousUsers > 0, !new.declaresEmpty {
                return .failure(UsersReloadRefused(previousUsers: changes.previousUsers))
            }
            old = new
            return .success(changes)
        }
        return try outcome.get()
    }

    /// Puts `new` in place of the current directory; sessions stay open, logged-in ones stay logged in.
    /// - Returns: What changed, in counts (never names of hashes, never hashes).
    @discardableResult
    public func replace(with new: UserDirectory) -> UserDirectory.Changes {
        directory.withLockedValue { old in
            defer { old = new }
            return new.changes(since: old)
        }
    }
}

/// A reload refused because the new users file has no user and does not say `# empty`.
public struct UsersReloadRefused: Error, Hashable, Sendable, CustomStringConvertible {
    /// Users kept.
    public var previousUsers: Int

    public var description: String {
        "the users file now has no users (it had \(previousUsers)); keeping them. To remove every user on purpose,"
            + " put a line '# empty' in the file"
    }
}

extension UserDirectory {
    /// How one users file differs from another, in counts: what a reload logs.
    public struct Changes: Hashable, Sendable, CustomStringConvertible {
        /// Users in the new file.
        public var users: Int
        /// Users the old file did not have.
        public var added: Int
        /// Users the new file no longer has.
        public var removed: Int
        /// Users whose password hash changed.
        public var changed: Int

        public init(users: Int, added: Int, removed: Int, changed: Int) {
            self.users = users
            self.added = added
            self.removed = removed
            self.changed = changed
        }

        /// Users in the old file.
        public var previousUsers: Int { users - added + removed }

        /// Whether more than half of the old users are gone: a reload worth a warning.
        public var removesMostUsers: Bool { removed * 2 > previousUsers }

        public var description: String {
            "\(users) users (\(added) added, \(removed) removed, \(changed) with a new password)"
        }
    }

    /// What changed from `old` to this directory.
    public func changes(since old: UserDirectory) -> Changes {
        let names = Set(userNames)
        let oldNames = Set(old.userNames)
        let changed = names.intersection(oldNames).count { self.hash(of: $0) != old.hash(of: $0) }
        return Changes(
            users: names.count,
            added: names.subtracting(oldNames).count,
            removed: oldNames.subtracting(names).count,
            changed: changed
        )
    }
}

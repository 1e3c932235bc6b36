"""The dashboard's users as operations, the one way they change (the `announce-bot user` commands call these): add,
list, remove, a new password or role. The settings password's user changes only through the settings."""

from __future__ import annotations

from bot.accounts import AccountError, Role, User, hash_password
from bot.clock import Clock
from bot.storage.accounts import Accounts, UserRecord


class UserOperations:
    """Users of the dashboard, their passwords (hashed here) and roles; AccountError says why a change is refused."""

    def __init__(self, accounts: Accounts, clock: Clock) -> None:
        self._accounts = accounts
        self._clock = clock

    def changeable(self, name: str) -> None:
        """Raise AccountError if `name` is the settings password's user (ask before asking for a password)."""
        found = self._accounts.credentials(name)
        if found is not None and found.from_settings:
            raise AccountError(f"{name!r} is the settings password's user: change ANNOUNCE_BOT_WEB__PASSWORD (or "
                               "password_file under [web]) and restart instead")

    def exists(self, name: str) -> bool:
        return self._accounts.credentials(name) is not None

    def add(self, name: str, role: Role, password: str | None, *, telegram_id: int | None = None) -> User:
        self.changeable(name)
        return self._accounts.add(name, role, hash_password(password) if password else None,
                                  telegram_id=telegram_id, now=self._clock())

    def list(self) -> list[UserRecord]:
        return self._accounts.users(self._clock())

    def remove(self, name: str) -> None:
        self.changeable(name)
        if not self._accounts.remove(name):
            raise AccountError(f"no user {name!r}")

    def set_password(self, name: str, password: str) -> int:
        """A new password; every session of the user ends. Returns how many."""
        self.changeable(name)
        if not self.exists(name):
            raise AccountError(f"no user {name!r}")
        return self._accounts.set_password(name, hash_password(password), self._clock())

    def set_role(self, name: str, role: Role) -> User:
        self.changeable(name)
        return self._accounts.set_role(name, role, self._clock())

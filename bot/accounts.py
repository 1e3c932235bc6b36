"""Dashboard users as values: roles in order, the signed-in user, and password hashing (argon2id)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# The name the single-password set-up (ANNOUNCE_BOT_WEB__PASSWORD / password_file) signs in as.
SETTINGS_ADMIN = "admin"
MIN_PASSWORD = 10
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106) parameters


@functools.cache
def _dummy_hash() -> str:
    """Verified when a name is unknown, so that an unknown name takes as long as a wrong password."""
    return _hasher.hash("announce-bot: no such user")



class AccountError(ValueError):
    """A change to the users that cannot be made as asked (a name or Telegram id already taken, no such user)."""

class Role(StrEnum):
    """What a dashboard user may do; each role may do everything the ones before it may."""

    VIEWER = "viewer"  # sees everything
    EDITOR = "editor"  # also publishes now, retries, skips, edits
    APPROVER = "approver"  # also approves what editors prepare
    ADMIN = "admin"  # everything

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True, kw_only=True)
class User:
    """A dashboard user, as the rest of the app sees one."""

    name: str
    role: Role
    telegram_id: int | None = None

    def can(self, needed: Role) -> bool:
        return self.role.allows(needed)


def check_name(name: str) -> str:
    """The name normalised (lower case), or ValueError saying what a name may be."""
    normal = name.strip().lower()
    if not NAME_PATTERN.fullmatch(normal):
        raise ValueError(f"user name {name!r}: use 1-64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
    return normal


def check_password(password: str) -> str:
    """A password a person chose (not the settings one, which is the operator's): ValueError when too weak."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    if password != password.strip():
        raise ValueError("the password must not begin or end with spaces")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, given: str) -> bool:
    """True when `given` matches the stored hash; a missing hash (no such user) costs the same time and fails."""
    try:
        return _hasher.verify(stored or _dummy_hash(), given) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """The hash was made with weaker parameters than today's: store a new one at the next sign-in."""
    return _hasher.check_needs_rehash(stored)

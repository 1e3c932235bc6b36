"""Dashboard accounts in the database: users, server-side sessions, failed sign-ins, the installation's keys."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.accounts import AccountError, Role, User
from bot.storage.tables import LoginFailureRow, WebKeyRow, WebSessionRow, WebUserRow

__all__ = ["AccountError", "Accounts", "Failures", "UserRecord"]


@dataclass(frozen=True, kw_only=True)
class UserRecord:
    """A user as `announce-bot user list` shows one."""

    user: User
    has_password: bool
    from_settings: bool
    created_at: datetime
    sessions: int  # signed-in browsers now


@dataclass(frozen=True, kw_only=True)
class Credentials:
    user: User
    password_hash: str | None
    from_settings: bool


@dataclass(frozen=True, kw_only=True)
class Failures:
    """Failed sign-ins counted under one key (an address or an account), and until when the next one waits."""

    failures: int
    last_failure_at: datetime
    blocked_until: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: WebUserRow) -> User:
    return User(name=row.name, role=Role(row.role), telegram_id=row.telegram_id)


class Accounts:
    """The dashboard's accounts as the web app and `announce-bot user` see them. Each method is one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    # The installation's keys.

    def key(self, name: str, make: Callable[[], str]) -> str:
        """The key called `name`, made with `make()` the first time; replicas starting together agree on one."""
        with self.sessions() as session:
            row = session.get(WebKeyRow, name)
            if row is not None:
                return row.value
        try:
            with self.sessions.begin() as session:
                session.add(WebKeyRow(name=name, value=make()))
        except IntegrityError:
            pass  # another replica stored its key first: use that one
        with self.sessions() as session:
            return session.get_one(WebKeyRow, name).value

    # Users.

    def add(self, name: str, role: Role, password_hash: str | None, *, telegram_id: int | None = None,
            from_settings: bool = False, now: datetime) -> User:
        row = WebUserRow(name=name, role=role.value, password_hash=password_hash, telegram_id=telegram_id,
                         from_settings=from_settings, created_at=now, updated_at=now)
        try:
            with self.sessions.begin() as session:
                if session.scalar(select(WebUserRow.id).where(WebUserRow.name == name)) is not None:
                    raise AccountError(f"a user {name!r} exists already")
                if telegram_id is not None and session.scalar(
                        select(WebUserRow.name).where(WebUserRow.telegram_id == telegram_id)) is not None:
                    raise AccountError(f"Telegram id {telegram_id} belongs to another user")
                session.add(row)
        except IntegrityError:  # made at the same moment by someone else
            raise AccountError(f"a user {name!r} or Telegram id {telegram_id} exists already") from None
        return _user(row)

    def credentials(self, name: str) -> Credentials | None:
        with self.sessions() as session:
            row = session.scalar(select(WebUserRow).where(WebUserRow.name == name))
            if row is None:
                return None
            return Credentials(user=_user(row), password_hash=row.password_hash, from_settings=row.from_settings)

    def by_telegram_id(self, telegram_id: int) -> User | None:
        with self.sessions() as session:
            row = session.scalar(select(WebUserRow).where(WebUserRow.telegram_id == telegram_id))
            return _user(row) if row is not None else None

    def any_user(self) -> bool:
        with self.sessions() as session:
            return session.scalar(select(WebUserRow.id).limit(1)) is not None

    def users(self, now: datetime) -> list[UserRecord]:
        with self.sessions() as session:
            live = (select(WebSessionRow.user_id, func.count().label("n")).where(WebSessionRow.expires_at > now)
                    .group_by(WebSessionRow.user_id).subquery())
            rows = session.execute(select(WebUserRow, live.c.n).outerjoin(live, live.c.user_id == WebUserRow.id)
                                   .order_by(WebUserRow.name)).all()
            return [UserRecord(user=_user(row), has_password=row.password_hash is not None,
                               from_settings=row.from_settings, created_at=row.created_at, sessions=count or 0)
                    for row, count in rows]

    def remove(self, name: str) -> bool:
        """Remove the user and end their sessions (the rows cascade); False when there is no such user."""
        with self.sessions.begin() as session:
            row = session.scalar(select(WebUserRow).where(WebUserRow.name == name))
            if row is None:
                return False
            session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == row.id))
            session.delete(row)
            return True

    def remove_settings_users(self) -> list[str]:
        """Remove the users made from the settings password (it is no longer set): their names."""
        with self.sessions.begin() as session:
            rows = list(session.scalars(select(WebUserRow).where(WebUserRow.from_settings.is_(True))))
            for row in rows:
                session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == row.id))
                session.delete(row)
            return [row.name for row in rows]

    def set_password(self, name: str, password_hash: str, now: datetime, *, end_sessions: bool = True) -> int:
        """A new hash; with `end_sessions` (a changed password) every session of the user ends. Sessions ended."""
        with self.sessions.begin() as session:
            row = session.scalar(select(WebUserRow).where(WebUserRow.name == name))
            if row is None:
                raise AccountError(f"no user {name!r}")
            row.password_hash = password_hash
            row.updated_at = now
            if not end_sessions:
                return 0
            ended = session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == row.id))
            return int(ended.rowcount)  # type: ignore[attr-defined]

    def set_role(self, name: str, role: Role, now: datetime) -> User:
        """A new role, in force at the user's next request (sessions read it each time)."""
        with self.sessions.begin() as session:
            row = session.scalar(select(WebUserRow).where(WebUserRow.name == name))
            if row is None:
                raise AccountError(f"no user {name!r}")
            row.role = role.value
            row.updated_at = now
            return _user(row)

    # Sessions.

    def open_session(self, name: str, now: datetime, lifetime: timedelta) -> str:
        """A new session for the user: the random token for the cookie (the table keeps only its hash)."""
        token = secrets.token_urlsafe(32)
        with self.sessions.begin() as session:
            user_id = session.scalar(select(WebUserRow.id).where(WebUserRow.name == name))
            if user_id is None:
                raise AccountError(f"no user {name!r}")
            # Expired sessions go whenever someone signs in, so the table holds only live ones and a few more.
            session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
            session.add(WebSessionRow(id_hash=_token_hash(token), user_id=user_id, created_at=now,
                                      last_seen_at=now, expires_at=now + lifetime))
        return token

    def session_user(self, token: str, now: datetime, *, touch_after: timedelta = timedelta(minutes=1)) -> User | None:
        """The user of a live session; None when it ended, expired or never was. Notes when it was last seen
        (at most once per `touch_after`, so that a page view is not a write)."""
        digest = _token_hash(token)
        with self.sessions() as session:
            found = session.execute(select(WebSessionRow, WebUserRow).join(WebUserRow)
                                    .where(WebSessionRow.id_hash == digest)).first()
            if found is None:
                return None
            row, user = found
            if row.expires_at <= now:
                session.execute(delete(WebSessionRow).where(WebSessionRow.id_hash == digest))
                session.commit()
                return None
            if row.last_seen_at + touch_after <= now:
                session.execute(update(WebSessionRow).where(WebSessionRow.id_hash == digest)
                                .values(last_seen_at=now))
                session.commit()
            return _user(user)

    def end_session(self, token: str) -> None:
        with self.sessions.begin() as session:
            session.execute(delete(WebSessionRow).where(WebSessionRow.id_hash == _token_hash(token)))

    def end_sessions(self, name: str) -> int:
        with self.sessions.begin() as session:
            user_id = session.scalar(select(WebUserRow.id).where(WebUserRow.name == name))
            ended = session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user_id))
            return int(ended.rowcount)  # type: ignore[attr-defined]

    # Failed sign-ins (the policy is bot/web/signin_delays.py's; these are its compare-and-set steps).

    def failures(self, key: str) -> Failures | None:
        with self.sessions() as session:
            row = session.get(LoginFailureRow, key)
            if row is None:
                return None
            return Failures(failures=row.failures, last_failure_at=row.last_failure_at,
                            blocked_until=row.blocked_until)

    def swap_failures(self, key: str, expected: Failures | None, new: Failures | None) -> bool:
        """Replace what is recorded under `key` if it is still `expected` (None: nothing); False if another
        request changed it first. Concurrent sign-ins from one address thus get one check between them."""
        try:
            with self.sessions.begin() as session:
                if expected is None:
                    if new is None:
                        return session.get(LoginFailureRow, key) is None
                    session.add(LoginFailureRow(key=key, failures=new.failures, last_failure_at=new.last_failure_at,
                                                blocked_until=new.blocked_until))
                    return True
                same = ((LoginFailureRow.key == key) & (LoginFailureRow.failures == expected.failures)
                        & (LoginFailureRow.last_failure_at == expected.last_failure_at))
                if new is None:
                    changed = session.execute(delete(LoginFailureRow).where(same))
                else:
                    changed = session.execute(update(LoginFailureRow).where(same).values(
                        failures=new.failures, last_failure_at=new.last_failure_at, blocked_until=new.blocked_until))
                return int(changed.rowcount) == 1  # type: ignore[attr-defined]
        except IntegrityError:  # inserted by another request at the same moment
            return False

    def forget_failures(self, before: datetime) -> None:
        with self.sessions.begin() as session:
            session.execute(delete(LoginFailureRow).where(LoginFailureRow.last_failure_at < before))

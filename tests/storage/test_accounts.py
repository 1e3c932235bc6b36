"""bot/storage/accounts.py on every supported database: users, sessions, failed sign-ins, keys, migration 0005."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.accounts import Role, User
from bot.storage import open_database
from bot.storage.accounts import AccountError, Accounts, Failures
from bot.storage.database import alembic_config, create, migrate
from bot.storage.tables import Base

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
TABLES = {"web_users", "web_sessions", "web_login_failures", "web_keys"}


@pytest.fixture
def accounts(database_url: str) -> Accounts:
    return Accounts(open_database(database_url))


def test_the_migration_makes_the_tables_the_models_describe_and_goes_back(database_url: str) -> None:
    engine = create(database_url)
    migrate(engine)
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) >= TABLES
        differences = [d for d in compare_metadata(MigrationContext.configure(connection), Base.metadata)
                       if any(table in repr(d) for table in TABLES)]
    assert differences == []
    config = alembic_config(database_url)
    command.downgrade(config, "0003")
    with engine.connect() as connection:
        assert not TABLES & set(inspect(connection).get_table_names())
    migrate(engine)
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) >= TABLES
    engine.dispose()


def test_users_are_added_found_changed_and_removed(accounts: Accounts) -> None:
    user = accounts.add("anna", Role.EDITOR, "hash-1", telegram_id=4242, now=NOW)
    assert user == User(name="anna", role=Role.EDITOR, telegram_id=4242)
    with pytest.raises(AccountError, match="a user 'anna' exists already"):
        accounts.add("anna", Role.VIEWER, "hash-2", now=NOW)
    with pytest.raises(AccountError, match="Telegram id 4242 belongs to another user"):
        accounts.add("boris", Role.VIEWER, "hash-2", telegram_id=4242, now=NOW)
    found = accounts.credentials("anna")
    assert found is not None and found.password_hash == "hash-1" and not found.from_settings
    assert accounts.by_telegram_id(4242) == user and accounts.by_telegram_id(1) is None
    assert accounts.set_role("anna", Role.APPROVER, NOW).role is Role.APPROVER
    accounts.open_session("anna", NOW, HOUR)
    [record] = accounts.users(NOW)
    assert (record.user.name, record.user.role, record.has_password, record.sessions) == ("anna", Role.APPROVER,
                                                                                          True, 1)
    assert accounts.remove("anna") and not accounts.remove("anna")
    assert not accounts.any_user() and accounts.users(NOW) == []


def test_a_session_lives_until_it_ends_expires_or_its_user_changes_password(accounts: Accounts) -> None:
    accounts.add("anna", Role.EDITOR, "hash-1", now=NOW)
    accounts.add("boris", Role.VIEWER, "hash-2", now=NOW)
    laptop, phone = accounts.open_session("anna", NOW, HOUR), accounts.open_session("anna", NOW, HOUR)
    other = accounts.open_session("boris", NOW, HOUR)
    assert laptop != phone and len(laptop) >= 40
    assert accounts.session_user(laptop, NOW + timedelta(minutes=59)) == User(name="anna", role=Role.EDITOR)
    assert accounts.session_user(laptop, NOW + HOUR) is None  # expired: gone for good
    assert accounts.session_user(laptop, NOW) is None
    assert accounts.session_user("made-up", NOW) is None
    accounts.end_session(phone)
    assert accounts.session_user(phone, NOW) is None
    again = accounts.open_session("anna", NOW, HOUR)
    assert accounts.set_password("anna", "hash-3", NOW) == 1  # the new password ends anna's sessions ...
    assert accounts.session_user(again, NOW) is None
    assert accounts.session_user(other, NOW) is not None  # ... and nobody else's
    assert accounts.credentials("anna").password_hash == "hash-3"  # type: ignore[union-attr]
    accounts.remove("boris")
    assert accounts.session_user(other, NOW) is None


def test_the_session_table_keeps_a_hash_of_the_token_only(accounts: Accounts) -> None:
    accounts.add("anna", Role.EDITOR, "hash-1", now=NOW)
    token = accounts.open_session("anna", NOW, HOUR)
    with accounts.sessions() as session:
        stored = [row[0] for row in session.execute(Base.metadata.tables["web_sessions"].select())]
    assert stored and token not in stored


def test_the_settings_users_go_when_the_settings_password_does(accounts: Accounts) -> None:
    accounts.add("admin", Role.ADMIN, "hash-1", from_settings=True, now=NOW)
    accounts.add("anna", Role.EDITOR, "hash-2", now=NOW)
    token = accounts.open_session("admin", NOW, HOUR)
    assert accounts.remove_settings_users() == ["admin"]
    assert accounts.session_user(token, NOW) is None
    assert [r.user.name for r in accounts.users(NOW)] == ["anna"]


def test_replicas_starting_together_agree_on_one_key(accounts: Accounts) -> None:
    made = iter(f"key-{n}" for n in range(100))
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: accounts.key("session", lambda: next(made)), range(16)))
    assert len(keys) == 1
    assert accounts.key("session", lambda: "another") in keys  # kept: a restart signs as before


def test_failures_are_swapped_only_from_what_was_read(accounts: Accounts) -> None:
    one = Failures(failures=1, last_failure_at=NOW, blocked_until=NOW + timedelta(seconds=1))
    two = Failures(failures=2, last_failure_at=NOW + timedelta(seconds=1), blocked_until=NOW + timedelta(seconds=3))
    assert accounts.swap_failures("addr:1", None, one)
    assert not accounts.swap_failures("addr:1", None, one)  # someone else recorded it first
    assert accounts.failures("addr:1") == one
    assert accounts.swap_failures("addr:1", one, two)
    assert not accounts.swap_failures("addr:1", one, two)  # it moved on since
    assert accounts.swap_failures("addr:1", two, None)
    assert accounts.failures("addr:1") is None
    accounts.swap_failures("addr:2", None, one)
    accounts.forget_failures(NOW + timedelta(seconds=1))
    assert accounts.failures("addr:2") is None

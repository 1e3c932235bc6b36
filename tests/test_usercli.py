"""`announce-bot user add/list/remove/passwd/role`, run as a person would (prompts, files, mistakes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.accounts import Role, verify_password
from bot.cli import app
from bot.storage import open_database
from bot.storage.accounts import Accounts
from bot.web.auth import settle_settings_admin

GOOD = "a long enough password"


@pytest.fixture
def accounts(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Accounts:
    url = f"sqlite:///{workdir / 'var' / 'users.db'}"
    monkeypatch.setenv("ANNOUNCE_BOT_DATABASE__URL", url)
    return Accounts(open_database(url))


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--config", "config", "user", *args], input=input)
    return result.exit_code, result.output


def test_add_asks_for_the_password_twice_and_stores_only_its_hash(accounts: Accounts) -> None:
    code, output = run("add", "Anna", "--role", "editor", "--telegram-id", "4242", input=f"{GOOD}\n{GOOD}\n")
    assert code == 0, output
    assert "added anna (editor), Telegram id 4242" in output and GOOD not in output
    found = accounts.credentials("anna")
    assert found is not None and found.user.role is Role.EDITOR and found.user.telegram_id == 4242
    assert found.password_hash and GOOD not in found.password_hash and verify_password(found.password_hash, GOOD)


@pytest.mark.parametrize(("args", "input", "message"), [
    (("add", "anna"), f"{GOOD}\nanother one entirely\n", "the two passwords differ; nothing was changed"),
    (("add", "anna"), "short\nshort\n", "at least 10 characters; nothing was changed"),
    (("add", "anna", "--role", "boss"), None, "unknown role 'boss': use one of viewer, editor, approver, admin"),
    (("add", "Anna Smith"), None, "user name 'Anna Smith': use 1-64 of a-z"),
    (("add", "anna", "--no-password"), None, "--no-password needs --telegram-id"),
    (("add", "anna", "--password-file", "missing"), None, "cannot read --password-file 'missing'"),
])
def test_add_refuses_what_cannot_work_and_adds_nothing(
    accounts: Accounts, args: tuple[str, ...], input: str | None, message: str
) -> None:
    code, output = run(*args, input=input)
    assert code == 2 and message in " ".join(output.split()), output
    assert not accounts.any_user()


def test_list_remove_passwd_and_role(accounts: Accounts, workdir: Path) -> None:
    (workdir / "pw").write_text(f"{GOOD}\n")
    assert run("add", "anna", "--password-file", "pw")[0] == 0
    assert run("add", "boris", "--role", "admin", "--no-password", "--telegram-id", "7")[0] == 0
    code, output = run("add", "anna", "--password-file", "pw")
    assert code == 2 and "a user 'anna' exists already" in output
    code, output = run("list")
    assert code == 0
    lines = [line for line in output.splitlines() if "anna" in line or "boris" in line]
    assert "viewer" in lines[0] and "password" in lines[0]  # a role given by no one is the least: viewer
    assert "admin" in lines[1] and "Telegram" in lines[1] and "7" in lines[1]

    anna_session = accounts.open_session("anna", datetime.now(UTC), timedelta(hours=1))
    (workdir / "pw2").write_text("a new long password\n")
    code, output = run("passwd", "anna", "--password-file", "pw2")
    assert code == 0 and "1 session(s) ended" in output
    assert accounts.session_user(anna_session, datetime.now(UTC)) is None
    assert verify_password(accounts.credentials("anna").password_hash, "a new long password")  # type: ignore[union-attr]

    assert run("role", "anna", "approver") == (0, "anna is now approver\n")
    assert accounts.credentials("anna").user.role is Role.APPROVER  # type: ignore[union-attr]
    assert run("role", "nobody", "viewer")[0] == 2
    assert run("remove", "anna") == (0, "removed anna; their sessions have ended\n")
    code, output = run("remove", "anna")
    assert code == 2 and "no user 'anna'" in output


def test_the_settings_password_user_is_changed_in_the_settings_only(accounts: Accounts) -> None:
    settle_settings_admin(accounts, GOOD, datetime.now(UTC))
    for args in (("passwd", "admin"), ("remove", "admin"), ("role", "admin", "viewer"), ("add", "admin")):
        code, output = run(*args)
        assert code == 2 and "ANNOUNCE_BOT_WEB__PASSWORD" in output, args
    assert "settings password" in run("list")[1]

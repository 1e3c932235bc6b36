"""`announce-bot user …`: the dashboard's users and their roles (add, list, remove, passwd, role)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Protocol

import typer
from rich.console import Console
from rich.table import Table

from bot.accounts import AccountError, Role, check_name, check_password
from bot.clock import utc_text

if TYPE_CHECKING:
    from bot.config import AppConfig
    from bot.users import UserOperations

users = typer.Typer(help="The dashboard's users: viewer < editor < approver < admin.", no_args_is_help=True)
console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

ROLES = ", ".join(role.value for role in Role)


class _State(Protocol):
    """What the main command's callback leaves in ctx.obj (bot.cli.State)."""

    @property
    def config(self) -> AppConfig: ...


def _users(ctx: typer.Context) -> UserOperations:
    """The users' operations on the configured database (bot/users.py)."""
    from bot.storage import open_database
    from bot.storage.accounts import Accounts
    from bot.users import UserOperations

    state: _State = ctx.obj
    database = state.config.settings.database
    return UserOperations(Accounts(open_database(database.url, echo=database.echo)), lambda: datetime.now(UTC))


def fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"error: {message}", style="red", markup=False)
    return typer.Exit(code)


def _name(name: str) -> str:
    try:
        return check_name(name)
    except ValueError as exc:
        raise fail(str(exc)) from None


def _role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise fail(f"unknown role {value!r}: use one of {ROLES}") from None


def _password(password_file: Path | None, name: str) -> str:
    """From the file (its first line), or asked twice without echo; too short or unequal is refused."""
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise fail(f"cannot read --password-file {str(password_file)!r}: {exc.strerror}") from None
        password = lines[0] if lines else ""
    else:
        first = typer.prompt(f"Password for {name}", hide_input=True)
        if typer.prompt("The same again", hide_input=True) != first:
            raise fail("the two passwords differ; nothing was changed")
        password = first
    try:
        return check_password(password)
    except ValueError as exc:
        raise fail(f"{exc}; nothing was changed") from None


PasswordFile = Annotated[Path | None, typer.Option(
    "--password-file", help="read the password from this file (its first line) instead of asking for it twice",
    dir_okay=False)]


@users.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the name to sign in with (a-z, 0-9, '.', '_', '-')")],
    role: Annotated[str, typer.Option("--role", "-r", help=f"one of {ROLES}")] = Role.VIEWER.value,
    password_file: PasswordFile = None,
    telegram_id: Annotated[int | None, typer.Option(
        "--telegram-id", help="the user's numeric Telegram id, for sign-in with Telegram", min=1)] = None,
    no_password: Annotated[bool, typer.Option(
        "--no-password", help="sign-in with Telegram only (needs --telegram-id)")] = False,
) -> None:
    """Add a dashboard user with a role; the password is asked for twice (or read from --password-file)."""
    name, chosen = _name(name), _role(role)
    operations = _users(ctx)
    if no_password and telegram_id is None:
        raise fail("--no-password needs --telegram-id: the user could not sign in at all")
    try:
        operations.changeable(name)
    except AccountError as exc:
        raise fail(str(exc)) from None
    password = None if no_password else _password(password_file, name)
    try:
        user = operations.add(name, chosen, password, telegram_id=telegram_id)
    except AccountError as exc:
        raise fail(str(exc)) from None
    console.print(f"added {user.name} ({user.role.value})" + (f", Telegram id {telegram_id}" if telegram_id else ""))


@users.command("list")
def list_users(ctx: typer.Context) -> None:
    """Every dashboard user: role, Telegram id, how they sign in, sessions open now."""
    records = _users(ctx).list()
    if not records:
        console.print("no dashboard users (add one: announce-bot user add NAME --role admin)")
        return
    header = ("name", "role", "telegram id", "signs in with", "sessions", "added")
    rows = []
    for record in records:
        how = [*(["settings password"] if record.from_settings else []),
               *(["password"] if record.has_password and not record.from_settings else []),
               *(["Telegram"] if record.user.telegram_id else [])]
        rows.append((record.user.name, record.user.role.value, str(record.user.telegram_id or ""), ", ".join(how),
                     str(record.sessions), utc_text(record.created_at)))
    if not console.is_terminal:  # piped: whole lines, one a user, tab-separated, never cut to a width
        for row in (header, *rows):
            print("\t".join(row))
        return
    table = Table(*header)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@users.command("remove")
def remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="the user to remove")]) -> None:
    """Remove a user; their open sessions end at once."""
    name = _name(name)
    try:
        _users(ctx).remove(name)
    except AccountError as exc:
        raise fail(f"{exc} (`announce-bot user list` shows them)") from None
    console.print(f"removed {name}; their sessions have ended")


@users.command("passwd")
def passwd(ctx: typer.Context, name: Annotated[str, typer.Argument(help="whose password")],
           password_file: PasswordFile = None) -> None:
    """Set a new password; every session of that user ends (signed in anywhere, they must sign in again)."""
    name = _name(name)
    operations = _users(ctx)
    try:
        operations.changeable(name)
    except AccountError as exc:
        raise fail(str(exc)) from None
    if not operations.exists(name):
        raise fail(f"no user {name!r} (`announce-bot user list` shows them)")
    try:
        ended = operations.set_password(name, _password(password_file, name))
    except AccountError as exc:
        raise fail(str(exc)) from None
    console.print(f"new password for {name}; {ended} session(s) ended")


@users.command("role")
def role(ctx: typer.Context, name: Annotated[str, typer.Argument(help="whose role")],
         new_role: Annotated[str, typer.Argument(metavar="ROLE", help=f"one of {ROLES}")]) -> None:
    """Change a user's role; it applies from their next request."""
    name, chosen = _name(name), _role(new_role)
    try:
        user = _users(ctx).set_role(name, chosen)
    except AccountError as exc:
        raise fail(f"{exc} (`announce-bot user list` shows them)") from None
    console.print(f"{user.name} is now {user.role.value}")

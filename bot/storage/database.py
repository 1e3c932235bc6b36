"""Opens the database by URL, brings its schema up to date with Alembic, and hands out sessions."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utc_text, utcnow
from bot.errors import AnnounceBotError

MIGRATIONS = Path(__file__).with_name("migrations")
CONNECT_TIMEOUT = 10  # seconds; without it an unreachable PostgreSQL host holds the start for minutes


class DatabaseUnavailable(AnnounceBotError):
    """The database cannot be used: unreachable, refused, or held by another process. One line, no secrets."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _folder_for(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailable(f"cannot create the folder {path.parent} for {path.name}: {exc.strerror}") from None


def create(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`; a SQLite file's folder is created, and SQLite gets foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if (path := _sqlite_file(parsed)) is not None:
            _folder_for(path)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # Foreign keys are off by default. WAL is set once, by migrate(): it stays in the file, and
            # asking for it on every connection failed with "database is locked" when two processes started.
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT}
    return create_engine(url, echo=echo, pool_pre_ping=True, connect_args=connect_args)


def describe_failure(url: URL, error: DBAPIError) -> str:
    """One line: where the database is and the driver's short reason (its first line, without the preamble)."""
    reason = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error.orig).__name__
    reason = reason.rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()
    if (path := _sqlite_file(url)) is not None:
        return f"cannot open the SQLite database {path}: {reason}"
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    return f"cannot connect to the database at {where} ({url.render_as_string(hide_password=True)}): {reason}"


@contextlib.contextmanager
def _connected(engine: Engine) -> Iterator[Connection]:
    try:
        connection = engine.connect()
    except DBAPIError as exc:
        raise DatabaseUnavailable(describe_failure(engine.url, exc)) from None
    with connection:
        yield connection


@contextlib.contextmanager
def _flock(path: Path, *, wait: bool) -> Iterator[int]:
    """An exclusive flock on `path`; the OS drops it when the process dies, kill -9 included."""
    _folder_for(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DatabaseUnavailable(f"cannot open the lock file {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        yield fd
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest migration (idempotent); processes starting together take turns."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    path = _sqlite_file(engine.url)
    # On SQLite, a file lock beside the database; on PostgreSQL, an advisory lock in the transaction.
    turn = _flock(path.with_name(path.name + ".migration.lock"), wait=True) if path else contextlib.nullcontext()
    with turn, _connected(engine) as connection:
        if path is not None:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")  # lets the web app read while the bot writes
            connection.commit()
        with connection.begin():
            if connection.dialect.name == "postgresql":
                # Replicas start together: one migrates, the others wait here and then find nothing to do.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7436551)")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


def upgrade(url: str) -> tuple[str, str]:
    """Migrate the database at `url` to the newest schema; (where it is, without a password; its revision)."""
    engine = create(url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            version = str(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one())
        return engine.url.render_as_string(hide_password=True), version
    finally:
        engine.dispose()


def open_database(url: str, *, echo: bool = False) -> sessionmaker[Session]:
    engine = create(url, echo=echo)
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)


class ProcessLock:
    """This process is the one `run` (or `web`) on an embedded SQLite database, for as long as it lives."""

    def __init__(self, path: Path, stack: contextlib.ExitStack) -> None:
        self.path = path
        self._stack = stack

    def release(self) -> None:
        self._stack.close()


def hold_process_lock(url: str) -> ProcessLock | None:
    """Make this process the only `run`/`web` on the SQLite database at `url`, or raise DatabaseUnavailable
    naming the process that is. None for PostgreSQL, where replicas share the database by design.

    Short-lived commands (status, retry, post...) do not take it: their writes are claims, safe beside `run`.
    """
    parsed = make_url(url)
    database = _sqlite_file(parsed)
    if database is None:
        return None
    path = database.with_name(database.name + ".lock")
    stack = contextlib.ExitStack()
    try:
        fd = stack.enter_context(_flock(path, wait=False))
    except BlockingIOError:
        stack.close()
        holder = path.read_text(encoding="utf-8", errors="replace").strip() or "a process that is starting"
        raise DatabaseUnavailable(
            f"{database} is in use by another announce-bot ({holder}); an embedded SQLite database serves one "
            "`run` or `web` at a time: stop that one first, or use PostgreSQL for several replicas"
        ) from None
    # Who holds it, for the message above (the lock, not this text, is what excludes).
    started = utc_text(utcnow())
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()}: announce-bot {' '.join(sys.argv[1:])}, since {started}\n".encode())
    return ProcessLock(path, stack)

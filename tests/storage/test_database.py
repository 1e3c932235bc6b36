"""Opening the database: one `run` per SQLite file, migrations that take turns, and one clear line when it fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from bot.storage.database import DatabaseUnavailable, alembic_config, hold_process_lock, open_database

ROOT = Path(__file__).resolve().parents[2]


def _head(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_the_lock_is_held_until_released_and_names_the_holder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'bot.db'}"
    first = hold_process_lock(url)
    assert first is not None and first.path == tmp_path / "var" / "bot.db.lock"
    # flock belongs to the open file, so a second attempt is refused even from this same process.
    with pytest.raises(DatabaseUnavailable) as refused:
        hold_process_lock(url)
    message = str(refused.value)
    assert "\n" not in message
    assert f"{tmp_path / 'var' / 'bot.db'} is in use by another announce-bot (pid {os.getpid()}:" in message
    assert "use PostgreSQL for several replicas" in message
    first.release()
    again = hold_process_lock(url)
    assert again is not None
    again.release()


def test_no_process_lock_where_replicas_share_the_database() -> None:
    assert hold_process_lock("postgresql+psycopg://bot@db.example/announce") is None
    assert hold_process_lock("sqlite://") is None  # in memory: nothing to share


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "--config", "config", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow  # `run` as a process, killed
def test_a_second_run_is_refused_short_commands_still_work_and_kill_9_frees_the_file(workdir: Path) -> None:
    env = {**os.environ, "ANNOUNCE_BOT_WEB__ENABLED": "false", "ANNOUNCE_BOT_CHAT__ENABLED": "false",
           "COLUMNS": "300"}
    lock = workdir / "var" / "announce-bot.db.lock"
    with (workdir / "first.log").open("wb") as out:
        first = subprocess.Popen([sys.executable, "-m", "bot", "--config", "config", "run"], cwd=workdir, env=env,
                                 stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (lock.exists() and "pid" in lock.read_text()) and first.poll() is None:
            assert time.monotonic() < deadline, (workdir / "first.log").read_text()
            time.sleep(0.05)
        second = _cli("run", "--once", cwd=workdir, env=env)
        assert second.returncode == 2, second.stdout + second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert f"var/announce-bot.db is in use by another announce-bot (pid {first.pid}: " in lines[0]
        assert "announce-bot --config config run, since " in lines[0]
        assert "Traceback" not in second.stdout + second.stderr
        web = _cli("web", cwd=workdir, env=env)
        assert web.returncode == 2 and "is in use by another announce-bot" in web.stderr
        status = _cli("status", cwd=workdir, env=env)
        assert status.returncode == 0, status.stderr
        assert "russia-dprk-treaty" in status.stdout
    finally:
        first.send_signal(signal.SIGKILL)  # no clean-up of any kind: the OS must drop the lock
        first.wait(timeout=30)
    after = _cli("run", "--once", cwd=workdir, env=env)
    assert after.returncode == 0, after.stdout + after.stderr


_OPEN = """
import sys, time
from pathlib import Path
from bot.storage.database import open_database
go = Path(sys.argv[2])
(go.parent / f"ready-{sys.argv[3]}").touch()
while not go.exists():
    time.sleep(0.001)
open_database(sys.argv[1])
"""


@pytest.mark.slow  # five processes a round
@pytest.mark.parametrize("round_", range(3))
def test_processes_starting_together_on_a_new_sqlite_file_all_open_it(tmp_path: Path, round_: int) -> None:
    """Before: `database is locked` on PRAGMA journal_mode=WAL, or `table events already exists`."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    starters = [subprocess.Popen([sys.executable, "-c", _OPEN, url, str(go), str(n)], env=env,
                                 stderr=subprocess.PIPE, text=True) for n in range(5)]
    while len(list(tmp_path.glob("ready-*"))) < 5:  # every interpreter has imported the bot and waits
        time.sleep(0.01)
    go.touch()
    failures = [p.communicate(timeout=120)[1] for p in starters]
    assert [p.returncode for p in starters] == [0] * 5, "\n".join(failures)
    with create_engine(url).connect() as connection:
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() == _head(url)
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"


def test_an_unreachable_postgresql_is_one_line_with_host_port_and_reason() -> None:
    with pytest.raises(DatabaseUnavailable) as failed:
        open_database("postgresql+psycopg://bot:pw-SECRET@127.0.0.1:1/announce")
    message = str(failed.value)
    assert message == ("cannot connect to the database at 127.0.0.1:1 (postgresql+psycopg://bot:***@127.0.0.1:1/"
                       "announce): Connection refused")


def test_a_sqlite_file_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(DatabaseUnavailable, match=r"cannot create the folder .*taken for bot\.db"):
        open_database(f"sqlite:///{tmp_path / 'taken' / 'bot.db'}")


@pytest.mark.slow  # a process per command
@pytest.mark.parametrize("command", [["status"], ["events"], ["run", "--once"], ["web"], ["db", "upgrade"]])
def test_every_command_says_an_unreachable_database_in_one_line(workdir: Path, command: list[str]) -> None:
    env = {**os.environ, "ANNOUNCE_BOT_DATABASE__URL": "postgresql://bot:pw-SECRET@127.0.0.1:1/announce",
           "COLUMNS": "300"}
    result = _cli(*command, cwd=workdir, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: cannot connect to the database at 127.0.0.1:1 (postgresql+psycopg://bot:***@127.0.0.1:1/announce): "
        "Connection refused"]
    assert "SECRET" not in result.stdout + result.stderr

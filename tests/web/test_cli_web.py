"""`announce-bot web` and `announce-bot run` serve the app for real: started as processes, asked over HTTP, stopped."""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.web.support import EVENT_ID, PASSWORD

pytestmark = pytest.mark.slow  # `run` and `web` as processes

URL = re.compile(r"web app: (http://127\.0\.0\.1:\d+)/events")
HEALTH_TOKEN = "health-token-for-the-cli-tests"
DETAILS = {"Authorization": f"Bearer {HEALTH_TOKEN}"}  # /healthz's details; anyone else gets the status only


class Bot:
    """A running `announce-bot` process whose output is read line by line."""

    def __init__(self, workdir: Path, *args: str, **env: str) -> None:
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "250", "ANNOUNCE_BOT_WEB__PORT": "0",
                       "ANNOUNCE_BOT_WEB__PASSWORD": PASSWORD, "ANNOUNCE_BOT_WEB__HEALTH_TOKEN": HEALTH_TOKEN,
                       "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", **env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", "config", *args], cwd=workdir, env=environment,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.output = ""

    def wait_for(self, pattern: re.Pattern[str] | str, timeout: float = 30.0) -> re.Match[str]:
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while (found := regex.search(self.output)) is None:
            left = deadline - time.monotonic()
            if left <= 0 or (self.process.poll() is not None and not selector.select(0)):
                raise AssertionError(f"no {regex.pattern!r} in the output:\n{self.output}")
            if selector.select(min(left, 0.5)):
                # Raw reads: a buffered reader could hold lines that select() no longer sees.
                self.output += os.read(self.process.stdout.fileno(), 65536).decode(errors="replace")
        return found

    def stop(self, signum: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            rest, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            rest, _ = self.process.communicate()
        self.output += (rest or b"").decode(errors="replace")
        return self.process.returncode


@pytest.fixture
def bots(workdir: Path) -> Iterator[list[Bot]]:
    started: list[Bot] = []
    yield started
    for bot in started:
        if bot.process.poll() is None:
            bot.process.kill()
            bot.process.communicate()


def test_run_serves_the_app_beside_the_scheduler_and_stops_it(workdir: Path, bots: list[Bot]) -> None:
    bot = Bot(workdir, "run")
    bots.append(bot)
    url = bot.wait_for(URL)[1]
    bot.wait_for("announce-bot is running")
    assert httpx.get(f"{url}/healthz", timeout=10).json() == {"status": "ok"}
    health = httpx.get(f"{url}/healthz", timeout=10, headers=DETAILS)
    assert health.status_code == 200, health.text
    assert health.json()["scheduler"] == {"running": True, "expected": True}
    page = httpx.get(f"{url}/events/{EVENT_ID}", timeout=10)
    assert page.status_code == 200 and "Valdai Club to Discuss Russia-North Korea Treaty" in page.text
    assert httpx.get(f"{url}/admin", timeout=10).status_code == 303  # the dashboard wants a login
    assert bot.stop(signal.SIGTERM) == 0, bot.output
    assert "stopping: finishing the posts in flight" in bot.output
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", timeout=5)


def test_run_with_the_web_app_disabled_serves_nothing(workdir: Path, bots: list[Bot]) -> None:
    bot = Bot(workdir, "run", ANNOUNCE_BOT_WEB__ENABLED="false")
    bots.append(bot)
    bot.wait_for("announce-bot is running")
    assert bot.stop() == 0
    assert "web app:" not in bot.output


def test_run_goes_on_posting_when_the_port_is_taken(workdir: Path, bots: list[Bot]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = Bot(workdir, "run", ANNOUNCE_BOT_WEB__PORT=str(port))
        bots.append(bot)
        bot.wait_for(f"the web app did not start: cannot listen on 127.0.0.1:{port}")
        bot.wait_for("announce-bot is running")
        assert bot.stop() == 0


def test_web_alone_serves_the_dashboard_without_a_scheduler(workdir: Path, bots: list[Bot]) -> None:
    bot = Bot(workdir, "web")
    bots.append(bot)
    url = bot.wait_for(URL)[1]
    # The settings' password makes the user admin: startup says how to sign in, not that the dashboard is locked.
    bot.wait_for(re.escape("dashboard sign-in at /admin/login: with a password (admin; the settings' password is "
                           "the user admin)"))
    bot.wait_for("serving the web app only")
    health = httpx.get(f"{url}/healthz", timeout=10, headers=DETAILS).json()
    assert health["scheduler"] == {"running": False, "expected": False}
    with httpx.Client(base_url=url, timeout=10) as http:
        form = http.get("/admin/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token
        answer = http.post("/admin/login", data={"csrf_token": token[1], "password": PASSWORD})
        assert answer.status_code == 303
        assert "Valdai Club to Discuss Russia-North Korea Treaty" in http.get("/admin").text
    assert bot.stop() == 0, bot.output


def test_web_without_a_password_says_the_dashboard_is_locked(workdir: Path, bots: list[Bot]) -> None:
    bot = Bot(workdir, "web", ANNOUNCE_BOT_WEB__PASSWORD="")
    bots.append(bot)
    url = bot.wait_for(URL)[1]
    bot.wait_for(re.escape("the dashboard is locked: nobody can sign in yet. Add a user (`announce-bot user add "
                           "NAME --role admin`) or set a password (ANNOUNCE_BOT_WEB__PASSWORD"))
    assert httpx.get(f"{url}/admin", timeout=10).status_code == 403
    assert bot.stop() == 0


def test_web_on_a_taken_port_exits_with_a_clear_error(workdir: Path, bots: list[Bot]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = Bot(workdir, "web", "--port", str(port))
        bots.append(bot)
        assert bot.stop(0) == 2  # signal 0: just wait for it
    assert f"cannot listen on 127.0.0.1:{port}" in bot.output

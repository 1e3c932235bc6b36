"""One malformed update costs one update: skipped, logged once, polling goes on; health tells; stop stays clean."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.chat import ChatBot, PollState, chat_bot
from bot.config import AppConfig
from bot.config.live import LiveConfig
from bot.runtime import Runtime
from tests.chat.conftest import ANNA, TOKEN, Say
from tests.fakes.base import Reply, Request
from tests.fakes.telegram import FakeTelegram


class RecordingTelegram(FakeTelegram):
    """The fake Bot API, also noting when each getUpdates arrived and what it was answered."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.polls: list[tuple[float, Reply]] = []

    def _reply(self, request: Request) -> Reply:
        arrived = time.monotonic()
        reply = super()._reply(request)
        if request.path.endswith("/getUpdates"):
            with self._lock:
                self.polls.append((arrived, reply))
        return reply

    def served(self, update_id: int) -> int:
        """How many getUpdates answers handed out `update_id`."""
        with self._lock:
            results = [reply.body.get("result") for _, reply in self.polls if isinstance(reply.body, dict)]
        return sum(1 for result in results if isinstance(result, list)
                   for update in result if isinstance(update, dict) and update.get("update_id") == update_id)

    def arrivals(self, since: int, first: Callable[[Reply], bool]) -> list[tuple[float, Reply]]:
        """The getUpdates calls after the `since`-th, from the first one whose answer is `first` on."""
        with self._lock:
            polls = sorted(self.polls[since:], key=lambda poll: poll[0])
        start = next(index for index, (_, reply) in enumerate(polls) if first(reply))
        return polls[start:]


@pytest.fixture
def fake() -> Iterator[RecordingTelegram]:
    server = RecordingTelegram(TOKEN)
    server.start()
    yield server
    server.stop()


def malformed(fake: RecordingTelegram) -> int:
    """An update PTB cannot parse: a message whose `chat` is a string (a broken proxy or self-hosted server)."""
    message = fake.user_message(ANNA, "/help")
    message["chat"] = "not-a-chat"
    return fake.inject({"message": message})


async def test_a_malformed_update_is_skipped_once_and_the_next_one_answered(
    say: Say, fake: RecordingTelegram, bot: ChatBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bad = malformed(fake)
    (reply,) = await say(ANNA, "/help")
    assert "What I can do" in reply["text"]
    # Confirmed by the next getUpdates: the server handed it out once, and holds nothing more.
    assert fake.served(bad) == 1
    assert await fake.until(lambda: fake.pending_updates() == 0)
    lines = [r.getMessage() for r in caplog.records if f"update {bad}" in r.getMessage()]
    assert len(lines) == 1 and "skipped" in lines[0], lines
    assert not [r for r in caplog.records if "Error while parsing updates" in r.getMessage()]
    health = bot.health()
    assert health.state is PollState.OK and health.skipped_updates == 1


async def test_a_restart_does_not_see_the_skipped_update_again(
    fake: RecordingTelegram, bot: ChatBot, config: AppConfig, runtime: Runtime
) -> None:
    bad = malformed(fake)
    since = fake.mark()
    fake.send(ANNA, "/help")
    assert await fake.wait_messages(ANNA.id, 1, since)
    await bot.stop()
    again = chat_bot(LiveConfig(config), runtime.operations, poll_timeout=1)  # as a new process would build it
    await again.start()
    try:
        since = fake.mark()
        fake.send(ANNA, "/start")
        (reply,) = await fake.wait_messages(ANNA.id, 1, since)
        assert "Hello, Anna!" in reply["text"]
    finally:
        await again.stop()
    assert fake.served(bad) == 1


async def test_stop_is_clean_right_after_a_malformed_update(fake: RecordingTelegram, bot: ChatBot) -> None:
    bad = malformed(fake)
    assert await fake.until(lambda: fake.served(bad) >= 1)
    await bot.stop()  # before: AttributeError: 'str' object has no attribute 'copy', from PTB's last getUpdates
    assert bot.health().state is PollState.STOPPED
    await bot.stop()  # twice (the fixture stops it again): still clean


async def test_stop_is_clean_when_the_server_is_gone(fake: RecordingTelegram, bot: ChatBot) -> None:
    assert await _until(lambda: bot.health().state is PollState.OK)
    fake.fail_method("getUpdates", FakeTelegram.dropped(), times=1000)
    await bot.stop()
    assert bot.health().state is PollState.STOPPED


# slow: PTB's own back-off between polls (1 s, 1.5 s, 2.25 s) is real time that no clock of ours moves
@pytest.mark.slow
async def test_a_failing_server_is_polled_with_growing_pauses_and_health_says_so(
    fake: RecordingTelegram, bot: ChatBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="announce_bot.chat")
    assert await _until(lambda: bot.health().state is PollState.OK)
    mark = len(fake.polls)
    fake.fail_method("getUpdates", FakeTelegram.server_error(), times=3)
    assert await _until(lambda: bot.health().state is PollState.FAILING)
    failing = bot.health()
    assert failing.last_error == "NetworkError: Internal Server Error"
    assert failing.last_error_at is not None and failing.since == failing.last_error_at
    since = fake.mark()
    fake.send(ANNA, "/help")
    (reply,) = await fake.wait_messages(ANNA.id, 1, since, timeout=15)
    assert "What I can do" in reply["text"]
    healthy = bot.health()
    assert healthy.state is PollState.OK and healthy.failed_calls == 0
    assert healthy.last_error == failing.last_error  # kept, for /healthz to show what happened last
    arrivals = fake.arrivals(mark, lambda reply: reply.status == 500)[:4]
    assert [reply.status for _, reply in arrivals] == [500, 500, 500, 200], arrivals
    # PTB's network loop waits 1 s, then 1.5 s, 2.25 s... after each error (a sleep never ends early).
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(arrivals)]
    assert all(gap >= 0.95 for gap in gaps), gaps
    lines = [r.getMessage() for r in caplog.records]
    assert len([line for line in lines if "getUpdates failed" in line]) == 1, lines  # not one per retry
    assert "getUpdates answers again, after 3 failed calls" in lines


# slow: PTB's own back-off between polls is real time
@pytest.mark.slow
async def test_an_answer_with_no_update_id_is_a_failed_call_backed_off(fake: RecordingTelegram,
                                                                       bot: ChatBot) -> None:
    assert await _until(lambda: bot.health().state is PollState.OK)
    mark = len(fake.polls)
    junk = Reply(body={"ok": True, "result": [{"message": "no id"}]})
    fake.fail_method("getUpdates", junk, times=2)
    assert await _until(lambda: bot.health().state is PollState.FAILING)
    assert bot.health().last_error == "NetworkError: getUpdates answered items without an update_id"
    assert await _until(lambda: bot.health().state is PollState.OK, timeout=10)
    arrivals = fake.arrivals(mark, lambda reply: reply is junk)[:3]
    assert [reply is junk for _, reply in arrivals] == [True, True, False]
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(arrivals)]
    assert len(gaps) == 2 and all(gap >= 0.95 for gap in gaps), arrivals


@pytest.mark.slow
def test_run_answers_after_a_malformed_update_and_exits_0_on_sigterm(
    fake: RecordingTelegram, chat_env: dict[str, str], workdir: Path
) -> None:
    env = {**os.environ, "ANNOUNCE_BOT_WEB__ENABLED": "false"}
    command = [sys.executable, "-m", "bot", "--config", "config", "--log-level", "INFO", "run"]
    log_file = workdir / "run.log"  # a file, not a pipe: nobody reads a pipe while the bot runs, and it fills
    with log_file.open("wb") as out:
        run = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert fake.wait_until(lambda: bool(fake.polls) or run.poll() is not None, 60)
        bad = malformed(fake)
        since = fake.mark()
        fake.send(ANNA, "/help")
        answered = fake.wait_until(lambda: bool(fake.in_chat(ANNA.id, since)), 15)
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    output = log_file.read_text(encoding="utf-8", errors="replace")
    assert answered and run.returncode == 0, (run.returncode, output[-3000:])
    assert "Traceback" not in output and "did not stop cleanly" not in output, output[-3000:]
    assert f"update {bad} could not be read" in output
    assert fake.served(bad) == 1


async def test_health_in_webhook_mode_and_as_a_value(config: AppConfig, runtime: Runtime) -> None:
    health = chat_bot(LiveConfig(config), runtime.operations).health()
    assert (health.mode, health.state, health.ok) == ("polling", PollState.STARTING, False)
    with pytest.raises(AttributeError):
        health.state = PollState.OK  # type: ignore[misc]


async def _until(ready: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True

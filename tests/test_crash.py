"""`announce-bot run` killed with SIGKILL mid-campaign and restarted: nothing lost, nothing sent twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage import Store, open_database
from tests.conftest import REFERENCE_EVENT_FILE, Platforms
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.slow  # a `run` process killed mid-campaign

EVENTS = 6


def write_events(workdir: Path, first_due: datetime) -> None:
    """EVENTS copies of the reference event whose announcements come due a few tenths of a second apart."""
    events = workdir / "config" / "events"
    (events / REFERENCE_EVENT_FILE.name).unlink()
    text = REFERENCE_EVENT_FILE.read_text(encoding="utf-8")
    for n in range(EVENTS):
        start = first_due + timedelta(days=7, milliseconds=300 * n)
        end = start + timedelta(hours=2)
        (events / f"crash-{n}.yaml").write_text(
            text.replace("id: russia-dprk-treaty", f"id: crash-{n}")
            .replace("en: Valdai Club to Discuss Russia-North Korea Treaty", f"en: Crash test event {n}")
            .replace("ru: Клуб «Валдай» обсудит договор России и КНДР", f"ru: Проверка сбоя {n}")
            .replace("start: 2024-11-27 11:00", f"start: {start.isoformat()}")
            .replace("end: 2024-11-27 13:00", f"end: {end.isoformat()}"),
            encoding="utf-8",
        )


def wait_for(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_sigkill_mid_campaign_loses_nothing_and_duplicates_nothing(platforms: Platforms, workdir: Path) -> None:
    write_events(workdir, datetime.now(UTC) + timedelta(seconds=3))
    # The third announcement on the English channel reaches Telegram, which takes 30 s to answer: the bot
    # is killed while waiting, so that post's fate is unknown to it.
    platforms.telegram.fail_method("sendMessage", FakeTelegram.slow(30), after=2)
    env = {**os.environ, "ANNOUNCE_BOT_DELIVERY__RATE_LIMIT": "false", "ANNOUNCE_BOT_DELIVERY__SWEEP_INTERVAL": "1"}
    command = [sys.executable, "-m", "bot", "--config", "config", "--log-level", "INFO", "run"]
    bot = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    def settled_elsewhere() -> bool:
        """The hanging Telegram call arrived, and the other targets' posts are recorded as sent."""
        if len(platforms.telegram.calls("sendMessage")) < 3 or not Path(workdir / "var/announce-bot.db").exists():
            return False
        try:
            posts = Store(open_database("sqlite:///var/announce-bot.db")).posts()
        except Exception:  # the bot is still creating the schema
            return False
        return sum(p.state == "sent" and p.target != "telegram" for p in posts) == 4 * EVENTS

    try:
        arrived = wait_for(settled_elsewhere, 30)
    finally:
        bot.kill()  # SIGKILL: no clean-up of any kind
        output = bot.communicate(timeout=10)[0].decode()
    assert arrived, output
    assert bot.returncode == -9
    sent_before = len(platforms.telegram.messages)

    restart = subprocess.run([*command[:-1], "run", "--once"], cwd=workdir, env=env, capture_output=True,
                             text=True, timeout=60, check=False)
    report = restart.stdout + restart.stderr
    assert restart.returncode == 0, report

    store = Store(open_database("sqlite:///var/announce-bot.db"))
    announcements = [p for p in store.posts() if p.kind == "announcement"]
    states = Counter((p.target, p.state) for p in announcements)
    # The one in flight is reported, not re-sent; everything else went out exactly once.
    assert states[("telegram", "unknown")] == 1, report
    assert states[("telegram", "sent")] == EVENTS - 1
    for target in ("telegram_ru", "vk", "x", "dzen"):
        assert states[(target, "sent")] == EVENTS, (target, report)
    assert "may or may not be published" in report and "announcement-bot retry" not in report
    texts = platforms.sent()
    # Threads of different events may share a later tweet (the same speakers): compare the threads' heads.
    texts["x"] = [tweet.text for tweet in platforms.x.tweets if tweet.in_reply_to is None]
    for name, sent in texts.items():
        assert len(sent) == len(set(sent)), f"{name} got a post twice"
    assert len(texts["telegram"]) == EVENTS >= sent_before  # the unknown one did arrive, once
    assert len(texts["vk"]) == len(texts["x"]) == EVENTS

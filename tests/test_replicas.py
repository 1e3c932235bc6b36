"""Two `announce-bot run` replicas on one PostgreSQL database; one is killed midway; the other finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage import Store, open_database
from tests.conftest import REFERENCE_EVENT_FILE, Platforms

pytestmark = pytest.mark.slow  # two `run` processes on PostgreSQL, one killed

EVENTS = 125  # x 4 targets (telegram, telegram_ru, x, dzen) = 500 posts
CAMPAIGN = """platforms: [telegram, x, dzen]
steps:
  - id: announcement
    kind: announcement
    at: start - 7d
    catch_up: before_end
"""


def write_events(workdir: Path, first_due: datetime) -> None:
    events = workdir / "config" / "events"
    (events / REFERENCE_EVENT_FILE.name).unlink()
    (workdir / "config" / "campaign.yaml").write_text(CAMPAIGN)
    text = REFERENCE_EVENT_FILE.read_text(encoding="utf-8")
    for n in range(EVENTS):
        start = first_due + timedelta(days=7, milliseconds=20 * n)
        (events / f"replica-{n}.yaml").write_text(
            text.replace("id: russia-dprk-treaty", f"id: replica-{n}")
            .replace("en: Valdai Club to Discuss Russia-North Korea Treaty", f"en: Replica event {n}")
            .replace("ru: Клуб «Валдай» обсудит договор России и КНДР", f"ru: Событие реплики {n}")
            .replace("start: 2024-11-27 11:00", f"start: {start.isoformat()}")
            .replace("end: 2024-11-27 13:00", f"end: {(start + timedelta(hours=2)).isoformat()}"),
            encoding="utf-8",
        )


def received(platforms: Platforms) -> int:
    heads = [t for t in platforms.x.tweets if t.in_reply_to is None]
    return len(platforms.telegram.messages) + len(platforms.telegram_ru.messages) + len(heads)


def test_two_replicas_share_the_work_and_the_survivor_finishes(platforms: Platforms, workdir: Path,
                                                               postgres) -> None:  # type: ignore[no-untyped-def]
    url = postgres.new_database()
    write_events(workdir, datetime.now(UTC) + timedelta(seconds=6))
    env = {
        **os.environ,
        "ANNOUNCE_BOT_DATABASE__URL": url,
        "ANNOUNCE_BOT_DELIVERY__SHARED_DATABASE": "true",
        "ANNOUNCE_BOT_DELIVERY__CLAIM_LEASE": "3",
        "ANNOUNCE_BOT_DELIVERY__SWEEP_INTERVAL": "1",
        "ANNOUNCE_BOT_DELIVERY__RATE_LIMIT": "false",
    }
    command = [sys.executable, "-m", "bot", "--config", "config", "--log-level", "WARNING", "run"]
    logs = [open(workdir / f"replica-{n}.log", "w") for n in range(2)]  # noqa: SIM115 - closed below
    replicas = [subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT) for log in logs]
    try:
        deadline = time.monotonic() + 240  # a generous bound for a loaded machine: how fast is not tested here
        while received(platforms) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        replicas[0].kill()  # SIGKILL, midway through the burst
        killed_at = time.monotonic()
        replicas[0].wait(timeout=10)
        store = Store(open_database(url))
        while time.monotonic() < deadline:
            states = Counter(p.state for p in store.posts())
            if states["planned"] == states["claimed"] == states["retrying"] == 0:
                break
            time.sleep(0.2)
        finished_at = time.monotonic()
        replicas[1].send_signal(signal.SIGTERM)  # a clean stop of the survivor
        assert replicas[1].wait(timeout=30) == 0, (workdir / "replica-1.log").read_text()[-3000:]
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.kill()
        for log in logs:
            log.close()
    report = "\n".join((workdir / f"replica-{n}.log").read_text() for n in range(2))

    posts = store.posts()
    states = Counter(p.state for p in posts)
    assert len(posts) == 4 * EVENTS
    assert states["sent"] + states["unknown"] == 4 * EVENTS, (states, report)
    by_worker = Counter((p.claimed_by or "").rsplit(":", 2)[1] for p in posts if p.state == "sent")
    assert len(by_worker) == 2, (by_worker, report)  # both replicas did part of the work
    # From the fakes' own records: nothing twice; everything once, except what is reported unknown.
    sent = {
        "telegram": [m["text"] for m in platforms.telegram.messages],
        "telegram_ru": [m["text"] for m in platforms.telegram_ru.messages],
        "x": [t.text for t in platforms.x.tweets if t.in_reply_to is None],
    }
    for name, texts in sent.items():
        assert len(texts) == len(set(texts)), f"{name} got a post twice"
        known = sum(p.state == "sent" and p.target == name for p in posts)
        unknown = sum(p.state == "unknown" and p.target == name for p in posts)
        assert known <= len(texts) <= known + unknown, (name, len(texts), known, unknown)
    assert states["unknown"] <= 4  # at most one post in flight per target in the killed replica
    takeover = finished_at - killed_at
    print(f"\nreplicas: {len(posts)} posts, {states['sent']} sent, {states['unknown']} unknown, "
          f"0 duplicates; sent by {dict(by_worker)}; survivor finished {takeover:.1f} s after the kill "
          f"(lease 3 s, sweep 1 s)")

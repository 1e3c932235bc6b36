"""Soak: `announce-bot run` against fake Telegram, VK and X servers that fail at random in every way a platform can,
while it is killed with SIGKILL at random moments and started again, until every post is settled.

Workload: `events` copies of the reference event whose announcements come due within a few seconds, on four
targets (two Telegram channels, VK, X): events x 4 posts. The fakes run in this process (the bot is a
subprocess, as in production); about `fault_rate` of the publishing requests meet a fault drawn from: 429 with
a short wait, 429 without a wait (X), 5xx, VK's "too many requests" (error 6), a dropped or reset connection
before the platform acted, the same after it acted (published, then no answer), an answer later than the
client's timeout (published). Every `kill_every` seconds on average the bot gets SIGKILL and is started again.

Counted from the database and from what the fakes received: sent, failed, unknown, how many of the unknown
ones really went out (their text reached the platform), and duplicates, which must be 0. Ends with one
`NAME: VALUE (target …)` line per figure. `--quick` is a small, short run; `--seed` makes a run repeatable.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain import PostState  # noqa: E402
from bot.storage import Store, open_database  # noqa: E402
from tests.fakes import base  # noqa: E402
from tests.fakes.base import Reply, Request  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.fakes.vk import FakeVk, vk_error  # noqa: E402
from tests.fakes.x import FakeX, problem  # noqa: E402

TOKEN = "123456:SOAK-telegram-SECRET"
VK_TOKEN = "vk-SOAK-SECRET"
X_KEYS = {"consumer_key": "ck-SOAK", "consumer_secret": "cs-SOAK", "access_token": "at-SOAK",
          "access_token_secret": "ats-SOAK"}
CAMPAIGN = """platforms: [telegram, vk, x]
steps:
  - id: announcement
    kind: announcement
    at: start - 7d
    catch_up: before_end
"""


class Faulty:
    """Mixed into a fake: a publishing request meets a random fault with probability `rate`."""

    rng: random.Random
    rate: float
    faults: list[tuple[str, Reply]]
    seen: Counter[str]

    def publishing(self, request: Request) -> bool:
        raise NotImplementedError

    def random_fault(self, request: Request) -> Reply | None:
        if not self.publishing(request) or self.rng.random() >= self.rate:
            return None
        name, reply = self.rng.choice(self.faults)
        self.seen[name] += 1
        return reply


NETWORK = [("drop before", base.dropped()), ("reset before", base.reset()),
           ("drop after publishing", base.record_then_drop()), ("reset after publishing", base.record_then_reset()),
           ("answer too late", base.late(3.0))]


class SoakTelegram(Faulty, FakeTelegram):
    def publishing(self, request: Request) -> bool:
        return request.path.endswith(("/sendMessage", "/sendPhoto"))

    def fault_for(self, request: Request) -> Reply | None:
        return self.random_fault(request) or super().fault_for(request)


class SoakVk(Faulty, FakeVk):
    def publishing(self, request: Request) -> bool:
        return request.path == "/method/wall.post"

    def fault_for(self, request: Request) -> Reply | None:
        return self.random_fault(request) or super().fault_for(request)


class SoakX(Faulty, FakeX):
    def publishing(self, request: Request) -> bool:
        return request.method == "POST" and request.path.startswith("/2/tweets")

    def fault_for(self, request: Request) -> Reply | None:
        return self.random_fault(request) or super().fault_for(request)


def fakes(rng: random.Random, rate: float) -> tuple[SoakTelegram, SoakTelegram, SoakVk, SoakX]:
    telegram_faults = [*NETWORK, ("429 retry_after 1", FakeTelegram.rate_limited(1)),
                       ("500", FakeTelegram.server_error()), ("502", FakeTelegram.server_error(502, "Bad Gateway"))]
    made: list[Any] = [SoakTelegram(TOKEN, chat_id="@valdaiclub"), SoakTelegram(TOKEN, chat_id="@valdai_club"),
                       SoakVk(token=VK_TOKEN), SoakX(**X_KEYS)]
    vk_faults = [*NETWORK, ("VK error 6", vk_error(6, "Too many requests per second", token=VK_TOKEN)),
                 ("500", Reply(status=500, body=b"<html>Internal Server Error</html>",
                               headers={"Content-Type": "text/html"}))]
    soon = str(int(time.time() + 2))
    x_faults = [*NETWORK, ("429 with reset", Reply(status=429, body=problem(429, "Too Many Requests", "Too Many"),
                                                   headers={"x-rate-limit-reset": soon})),
                ("503", Reply(status=503, body=problem(503, "Service Unavailable", "Service Unavailable")))]
    for fake, faults in zip(made, (telegram_faults, telegram_faults, vk_faults, x_faults), strict=True):
        fake.rng, fake.rate, fake.faults, fake.seen = rng, rate, faults, Counter()
        fake.start()
    return made[0], made[1], made[2], made[3]


def workspace(root: Path, events: int, first_due: datetime) -> None:
    fixtures = ROOT / "tests" / "fixtures"
    shutil.copytree(fixtures / "config", root / "config")
    shutil.copytree(ROOT / "templates", root / "templates")
    (root / "config" / "campaign.yaml").write_text(CAMPAIGN)
    folder = root / "config" / "events"
    reference = folder / "russia-dprk-treaty.yaml"
    text = reference.read_text(encoding="utf-8")
    reference.unlink()
    for n in range(events):
        start = first_due + timedelta(days=7, milliseconds=40 * n)
        (folder / f"soak-{n}.yaml").write_text(
            text.replace("id: russia-dprk-treaty", f"id: soak-{n}")
            .replace("en: Valdai Club to Discuss Russia-North Korea Treaty", f"en: Soak event {n}")
            .replace("ru: Клуб «Валдай» обсудит договор России и КНДР", f"ru: Событие {n}")
            .replace("start: 2024-11-27 11:00", f"start: {start.isoformat()}")
            .replace("end: 2024-11-27 13:00", f"end: {(start + timedelta(hours=2)).isoformat()}"),
            encoding="utf-8")


def environment(telegram: FakeTelegram, telegram_ru: FakeTelegram, vk: FakeVk, x: FakeX) -> dict[str, str]:
    prefix = "ANNOUNCE_BOT_TARGETS__"
    env = {name: value for name, value in os.environ.items() if not name.startswith("ANNOUNCE_BOT_")}
    env.update({
        f"{prefix}TELEGRAM__TOKEN": TOKEN, f"{prefix}TELEGRAM__API_BASE_URL": telegram.base_url,
        f"{prefix}TELEGRAM_RU__TOKEN": TOKEN, f"{prefix}TELEGRAM_RU__API_BASE_URL": telegram_ru.base_url,
        f"{prefix}VK__TOKEN": VK_TOKEN, f"{prefix}VK__API_BASE_URL": vk.base_url,
        f"{prefix}X__API_BASE_URL": x.base_url, f"{prefix}DZEN__ENABLED": "false",
        "ANNOUNCE_BOT_DELIVERY__RATE_LIMIT": "false", "ANNOUNCE_BOT_DELIVERY__SWEEP_INTERVAL": "1",
        "ANNOUNCE_BOT_DELIVERY__BACKOFF_BASE": "1", "ANNOUNCE_BOT_DELIVERY__BACKOFF_MAX": "4",
        "ANNOUNCE_BOT_DELIVERY__MAX_ATTEMPTS": "12", "ANNOUNCE_BOT_WEB__ENABLED": "false",
        "ANNOUNCE_BOT_CHAT__ENABLED": "false", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    })
    for name in ("TELEGRAM", "TELEGRAM_RU", "VK", "X"):
        env[f"{prefix}{name}__TIMEOUT"] = "2"
    env.update({f"{prefix}X__{key.upper()}": value for key, value in X_KEYS.items()})
    return env


def open_posts(store: Store) -> int:
    return sum(p.state in (PostState.PLANNED, PostState.CLAIMED, PostState.RETRYING) for p in store.posts())


def run(events: int, rate: float, kill_every: float, seed: int, limit: float) -> dict[str, int]:
    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="soak-"))
    workspace(root, events, datetime.now(UTC) + timedelta(seconds=5))
    telegram, telegram_ru, vk, x = fakes(rng, rate)
    env = environment(telegram, telegram_ru, vk, x)
    command = [sys.executable, "-m", "bot", "--config", "config", "--log-level", "ERROR", "run"]
    kills = 0
    deadline = time.monotonic() + limit
    log = open(root / "bot.log", "w")  # noqa: SIM115 - closed below
    try:
        bot = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(3)
        store = Store(open_database(f"sqlite:///{root / 'var' / 'announce-bot.db'}"))
        while time.monotonic() < deadline:
            time.sleep(rng.expovariate(1 / kill_every))
            if store.posts() and open_posts(store) == 0:
                break  # everything settled: no more kills needed
            bot.send_signal(signal.SIGKILL)
            bot.wait()
            kills += 1
            bot = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        # Let the last one finish undisturbed.
        while open_posts(store) and time.monotonic() < deadline + 60:
            time.sleep(0.5)
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
        log.close()
        for fake in (telegram, telegram_ru, vk, x):
            fake.stop()
    posts = store.posts()
    received = {
        "telegram": Counter(m.get("text", "") for m in telegram.messages),
        "telegram_ru": Counter(m.get("text", "") for m in telegram_ru.messages),
        "vk": Counter(p.message for p in vk.posts),
        "x": Counter(t.text for t in x.tweets if t.in_reply_to is None),
    }
    duplicates = sum(n - 1 for counts in received.values() for n in counts.values() if n > 1)
    states = Counter(p.state for p in posts)
    unknown_out = 0
    for post in posts:
        if post.state is PostState.UNKNOWN:
            title = f"Soak event {post.event_id.removeprefix('soak-')}" if post.lang == "en" else \
                f"Событие {post.event_id.removeprefix('soak-')}"
            unknown_out += any(title in text for text in received[post.target])
    faults = sum(sum(fake.seen.values()) for fake in (telegram, telegram_ru, vk, x))
    print(f"soak: {len(posts)} posts on {', '.join(received)}; {kills} kills; {faults} faults "
          f"({dict(sum((f.seen for f in (telegram, telegram_ru, vk, x)), Counter()))}); work folder {root}")
    return {"posts": len(posts), "sent": states[PostState.SENT], "failed": states[PostState.FAILED],
            "unknown": states[PostState.UNKNOWN], "unknown_out": unknown_out, "open": open_posts(store),
            "duplicates": duplicates, "kills": kills, "faults": faults}


def main(argv: list[str] | None = None) -> dict[str, int]:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small, short run: checks that the soak still works")
    parser.add_argument("--events", type=int, default=60, help="events (x 4 posts); default 60 = 240 posts")
    parser.add_argument("--fault-rate", type=float, default=0.3, help="share of publishing requests that fail")
    parser.add_argument("--kill-every", type=float, default=4.0, help="mean seconds between two SIGKILLs")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--limit", type=float, default=240.0, help="seconds of killing before the last run")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.kill_every, args.limit = 4, 3.0, 12.0
    figures = run(args.events, args.fault_rate, args.kill_every, args.seed, args.limit)
    print(f"posts: {figures['posts']}")
    print(f"kills: {figures['kills']}")
    print(f"faults: {figures['faults']}")
    print(f"sent: {figures['sent']}")
    print(f"failed: {figures['failed']}")
    print(f"unknown: {figures['unknown']} (of which really out: {figures['unknown_out']})")
    print(f"not settled: {figures['open']} (target 0)")
    print(f"duplicates: {figures['duplicates']} (target 0)")
    return figures


if __name__ == "__main__":
    main()

"""Peak RSS of `python -m bot run` with 1,000 events and 20,000 subscribers (issue 13's "Memory" figure).

`python -m bench.memory [--events 1000] [--subscribers 20000] [--hold 90]` (from the repository root).

In a temporary directory: a copy of config/ and templates/, the reference event replaced by `--events` copies of
it (each with its own id and title, written as event files, starting 8 days from now and 2 hours apart, so that
every post of their campaigns is planned and none is past or due), and `--subscribers` people subscribed to
every event, put in the SQLite database beforehand (bench/chat_broadcast.py's helper). The `telegram` target
has a token and points at a FakeTelegram (tests/fakes/telegram.py) in a process of its own, so the chat bot
and its reminder broadcaster really run; the other targets have no credentials and would write to the outbox.

Then the real `python -m bot run`, a subprocess, in that directory: it imports and plans the events, starts
the scheduler, the web app and the chat bot. Once /healthz answers and reports the chat bot polling, a few
subscribers ask `/next` (so that the chat bot's caches are filled as in use), and the bot is held `--hold`
seconds while its RSS is sampled from /proc/<pid>/status (VmRSS; VmHWM is the kernel's peak RSS), its child
processes' too if it has any. Then SIGTERM; it should exit 0. Sizes in MB of 2^20 bytes. Nothing about time
is asserted. The last lines are `NAME: VALUE (target ...)`, one per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

import httpx  # noqa: E402

from bench.chat_broadcast import FIRST_CHAT, TOKEN, add_subscribers, fake_process  # noqa: E402
from bot.config import load_event  # noqa: E402
from bot.config.export import event_yaml  # noqa: E402
from bot.domain import Event  # noqa: E402
from bot.storage import Store, open_database  # noqa: E402

HEALTH_TOKEN = "bench-health-token"
ASKS = 5  # subscribers who ask /next once the bot is up
READY_LIMIT = 600.0  # seconds to wait for /healthz before giving up (a guard against a hung bot, not a target)
SAMPLE_EVERY = 0.1


def copies(reference: Event, count: int, first: datetime) -> list[Event]:
    """`count` copies of the reference event, each with its own id and title, starting 2 hours apart."""
    events = []
    for number in range(1, count + 1):
        start = first + timedelta(hours=2 * (number - 1))
        title = reference.title
        events.append(reference.model_copy(update={
            "id": f"memory-{number:05d}",
            "title": {lang: f"{text} (#{number})" for lang, text in title.items()} if isinstance(title, dict)
            else f"{title} (#{number})",
            "start": start.astimezone(reference.zone), "end": (start + timedelta(hours=2)).astimezone(reference.zone),
        }))
    return events


def workspace(root: Path, events: int, subscribers: int) -> str:
    """config/, templates/, the event files and the database with the subscribers; returns the database URL."""
    shutil.copytree(ROOT / "config", root / "config")
    shutil.copytree(ROOT / "templates", root / "templates")
    (root / "var").mkdir()
    folder = root / "config" / "events"
    reference_file = folder / "russia-dprk-treaty.yaml"
    reference = load_event(reference_file)
    reference_file.unlink()
    first = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=8)
    for event in copies(reference, events, first):
        (folder / f"{event.id}.yaml").write_text(event_yaml(event), encoding="utf-8")
    url = f"sqlite:///{root / 'var' / 'announce-bot.db'}"
    sessions = open_database(url)
    add_subscribers(Store(sessions), subscribers)
    sessions.kw["bind"].dispose()
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(fake_url: str, database_url: str, port: int) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("ANNOUNCE_BOT_")}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "ANNOUNCE_BOT_DATABASE__URL": database_url,
        "ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN": TOKEN,
        "ANNOUNCE_BOT_TARGETS__TELEGRAM__API_BASE_URL": fake_url,
        "ANNOUNCE_BOT_WEB__HOST": "127.0.0.1",
        "ANNOUNCE_BOT_WEB__PORT": str(port),
        "ANNOUNCE_BOT_WEB__HEALTH_TOKEN": HEALTH_TOKEN,
    })
    return env


def status(pid: int) -> dict[str, int]:
    """The Vm*/Rss* lines of /proc/<pid>/status, in kB (empty once the process is gone)."""
    found: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return found
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.startswith(("Vm", "Rss")) and value.strip().endswith("kB"):
            found[key] = int(value.split()[0])
    return found


def descendants(pid: int) -> list[int]:
    """The process's children, their children, and so on (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids = [int(p) for p in children.read_text().split()]
        except OSError:
            continue
        for child in pids:
            found += [child, *descendants(child)]
    return found


def health(port: int) -> dict[str, Any] | None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz",
                                     headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            report: dict[str, Any] = json.loads(answer.read())
            return report
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read() or b"{}"))
    except (OSError, ValueError):
        return None


def mb(kilobytes: int) -> float:
    return kilobytes / 1024


class Sampler:
    """The bot's and its children's RSS, sampled; VmHWM (the peak) read from each process's last status."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.max_rss = 0  # kB, the bot and its children together, over the samples
        self.hwm: dict[int, int] = {}  # pid -> VmHWM, kB, the latest read
        self.last: dict[int, dict[str, int]] = {}
        self.series: list[tuple[float, int]] = []  # (monotonic time, kB) of every sample

    def sample(self) -> int:
        total = 0
        for pid in (self.pid, *descendants(self.pid)):
            found = status(pid)
            if not found:
                continue
            self.last[pid] = found
            self.hwm[pid] = max(self.hwm.get(pid, 0), found.get("VmHWM", 0))
            total += found.get("VmRSS", 0)
        self.max_rss = max(self.max_rss, total)
        self.series.append((time.monotonic(), total))
        return total

    def hold(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.sample()
            time.sleep(SAMPLE_EVERY)


def wait_ready(bot: subprocess.Popen[bytes], port: int, sampler: Sampler) -> dict[str, Any]:
    """Until /healthz answers and says the chat bot is polling (its getUpdates answered)."""
    deadline = time.monotonic() + READY_LIMIT
    while time.monotonic() < deadline:
        if bot.poll() is not None:
            raise RuntimeError(f"`run` exited with {bot.returncode} before it was ready")
        sampler.sample()
        report = health(port)
        chat = (report or {}).get("chat") or {}
        if report is not None and chat.get("running") and chat.get("state") == "ok":
            return report
        time.sleep(SAMPLE_EVERY)
    raise RuntimeError(f"`run` not ready after {READY_LIMIT:.0f} s")


def ask_next(fake_url: str, count: int) -> int:
    """`count` subscribers ask /next, one after the other; returns how many got an event card back."""
    answered = 0
    with httpx.Client(base_url=fake_url, timeout=30) as control:
        for index in range(count):
            reply = control.post("/control/ask", json={"user_id": FIRST_CHAT + index, "text": "/next",
                                                       "timeout": 20}).json()
            answered += bool(reply.get("ok")) and "(#1)" in str(reply["result"]["text"])
            time.sleep(0.1)
    return answered


def measure(events: int, subscribers: int, hold: float) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        started = time.monotonic()
        database_url = workspace(root, events, subscribers)
        print(f"{events} event files and {subscribers} subscribers in the database "
              f"({time.monotonic() - started:.1f} s to prepare)", flush=True)
        port = free_port()
        with fake_process(30) as fake_url, open(root / "bot.log", "wb") as log:
            command = [sys.executable, "-m", "bot", "--config", "config", "run"]
            started = time.monotonic()
            bot = subprocess.Popen(command, cwd=root, env=environment(fake_url, database_url, port),
                                   stdout=log, stderr=subprocess.STDOUT)
            sampler = Sampler(bot.pid)
            try:
                report = wait_ready(bot, port, sampler)
                ready = time.monotonic() - started
                at_ready = sampler.sample()
                answered = ask_next(fake_url, ASKS)
                after_asks = sampler.sample()
                held_from = time.monotonic()
                sampler.hold(hold)
                at_end = sampler.sample()
                children = sorted(set(sampler.last) - {bot.pid})
                end_status = dict(sampler.last.get(bot.pid, {}))
                bot.send_signal(signal.SIGTERM)
                exit_code = bot.wait(timeout=120)
            finally:
                if bot.poll() is None:
                    bot.kill()
                    bot.wait()
        output = (root / "bot.log").read_text(encoding="utf-8", errors="replace")
        if exit_code != 0 or answered != ASKS:
            print(f"---- the bot's output (exit code {exit_code}):\n{output[-4000:]}\n----", flush=True)
        peak = sum(sampler.hwm.values())
        figures = {
            "events": events, "subscribers": subscribers, "hold": hold, "ready_seconds": ready,
            "rss_at_ready_mb": mb(at_ready), "rss_after_asks_mb": mb(after_asks),
            "rss_during_hold_mb": [(round(t - held_from, 1), mb(kb)) for t, kb in sampler.series if t >= held_from],
            "rss_max_sampled_mb": mb(sampler.max_rss), "rss_at_end_mb": mb(at_end),
            "peak_rss_mb": mb(peak), "bot_peak_rss_mb": mb(sampler.hwm.get(bot.pid, 0)), "children": len(children),
            "rss_anon_mb": mb(end_status.get("RssAnon", 0)), "rss_file_mb": mb(end_status.get("RssFile", 0)),
            "answered": answered, "exit_code": exit_code, "database": report.get("database"),
            "chat": report.get("chat"), "output": output,
        }
        show(figures)
        return figures
    finally:
        shutil.rmtree(root, ignore_errors=True)


def show(f: dict[str, Any]) -> None:
    size = f"{f['events']:,} events, {f['subscribers']:,} subscribers"
    print(f"`run` ready after {f['ready_seconds']:.1f} s (/healthz answers, chat bot polling); "
          f"/next answered {f['answered']} of {ASKS}; held {f['hold']:g} s; {f['children']} child process(es)")
    print(f"{'moment':<48} {'RSS, MB':>9}")
    for label, key in (("ready (events imported and planned, chat bot up)", "rss_at_ready_mb"),
                       (f"after {ASKS} subscribers asked /next", "rss_after_asks_mb"),
                       ("highest sample (every 0.1 s)", "rss_max_sampled_mb"),
                       ("end of the hold", "rss_at_end_mb"),
                       ("  of which anonymous (heap) / file-backed", None),
                       ("peak: VmHWM (the kernel's high-water mark)", "peak_rss_mb")):
        value = f"{f['rss_anon_mb']:.1f} / {f['rss_file_mb']:.1f}" if key is None else f"{f[key]:.1f}"
        print(f"{label:<48} {value:>9}")
    print(f"peak_rss_mb: {f['peak_rss_mb']:.1f} (target: printed; {size})")
    print(f"rss_at_end_mb: {f['rss_at_end_mb']:.1f} (after {f['hold']:g} s held; {size})")
    print(f"exit_code: {f['exit_code']} (target 0, after SIGTERM)")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--hold", type=float, default=90.0,
                        help="seconds the bot runs once ready, sampled (its RSS settles after two re-imports)")
    args = parser.parse_args(argv)
    return measure(args.events, args.subscribers, args.hold)


if __name__ == "__main__":
    main()

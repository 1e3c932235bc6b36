"""Reading back what the posts reached, against loopback fakes of VK (wall.getById), X (GET /2/tweets with
public_metrics) and Telegram (message_reaction_count updates to the chat bot); the bot's own counts (clicks through
its /go/ links, page views); readings at 1 h, 24 h and 7 days within the budget and the delivery's retry policy,
never touching delivery; the report and `announce-bot report --refresh --json`."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bot.chat import ALLOWED_UPDATES, ChatBot, chat_bot
from bot.cli import app
from bot.config import load_config
from bot.domain import Platform, PostKind, PostState
from bot.importing import import_events
from bot.runtime import Runtime
from bot.storage import Store, open_database
from bot.storage.reach import ReachStore
from bot.web import create_app
from tests.conftest import Platforms
from tests.web.support import Clock

EVENT = "russia-dprk-treaty"
IMPORTED = datetime(2024, 11, 1, tzinfo=UTC)
ANNOUNCED = datetime(2024, 11, 20, 8, 0, tzinfo=UTC)  # the announcement step: start - 7d
SERVICE = "vk-service-SECRET-key"
PUBLIC = "https://events.example.org"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
PREVIEW = "TelegramBot (like TwitterBot)"


@pytest.fixture
def reach_env(platforms: Platforms, monkeypatch: pytest.MonkeyPatch) -> Platforms:
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__RATE_LIMIT", "false")
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__VK__SERVICE_TOKEN", SERVICE)
    monkeypatch.setenv("ANNOUNCE_BOT_REACH__COUNT_FLUSH", "0")  # every count written at once
    platforms.vk.service_token = SERVICE  # wall.getById: user and service tokens only, as VK documents
    return platforms


async def announced(clock: Clock, database_url: str = "sqlite:///var/announce-bot.db") -> Runtime:
    runtime = Runtime.build(load_config(Path("config")), store=Store(open_database(database_url)), clock=clock,
                            notify=False)
    import_events(runtime.config, runtime.store, IMPORTED)
    clock.now = ANNOUNCED
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()
    return runtime


async def two_posts_on_x(clock: Clock, database_url: str) -> Runtime:
    """The announcement everywhere, and the 1-day reminder on X at once: two posts to read on X."""
    runtime = await announced(clock, database_url)
    await runtime.operations.publish(EVENT, PostKind.REMINDER, targets=["x"])
    return runtime


@pytest.fixture
async def chat(reach_env: Platforms) -> AsyncIterator[list[ChatBot]]:
    running: list[ChatBot] = []
    yield running
    for bot in running:
        await bot.stop()


async def test_the_report_shows_what_each_platform_gives_and_says_what_it_does_not(
    reach_env: Platforms, workdir: Path, chat: list[ChatBot]
) -> None:
    fakes = reach_env
    clock = Clock(IMPORTED)
    runtime = await announced(clock)
    assert {p.target: p.state for p in runtime.store.posts(EVENT) if p.step_id == "announcement"} == dict.fromkeys(
        ["telegram", "telegram_ru", "vk", "x", "dzen"], PostState.SENT)
    # People read the posts: VK counts views, X impressions.
    wall = fakes.vk.posts[0]
    wall.views, wall.likes, wall.reposts = 1234, 56, 7
    fakes.x.tweets[0].metrics.update(impression_count=987, like_count=12, retweet_count=3, reply_count=2)
    # Telegram: no views in the Bot API; the chat bot (the channel's administrator) receives the reaction counts.
    bot = chat_bot(runtime.live, runtime.operations, clock=clock, poll_timeout=1)
    await bot.start()
    chat.append(bot)
    assert await fakes.telegram.until(lambda: fakes.telegram.allowed_updates is not None)  # its first getUpdates
    assert fakes.telegram.allowed_updates == ALLOWED_UPDATES and "message_reaction_count" in ALLOWED_UPDATES
    message = int(next(p.post_id for p in runtime.store.posts(EVENT)
                       if p.step_id == "announcement" and p.target == "telegram") or 0)
    fakes.telegram.reaction_count(message, {"👍": 5, "🔥": 2})
    store = ReachStore(runtime.store.sessions)
    assert await fakes.telegram.until(lambda: any(r.slot.startswith("reactions@") for r in store.readings(EVENT)))

    # Clicks through the bot's own link in the Telegram post (a link preview's crawler is not counted).
    text = fakes.telegram.messages[0]["text"]
    links = re.findall(r'href="([^"]+)"', text)
    assert links and all(link.startswith(f"{PUBLIC}/go/{EVENT}/telegram/announcement/https://") for link in links)
    go = next(link for link in links if link.endswith("/https://valdaiclub.com/events/announcements/russia-dprk-treaty/"))
    web = create_app(runtime.live, runtime.operations, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url=PUBLIC) as http:
        path = go.removeprefix(PUBLIC)
        for agent in (BROWSER, PREVIEW):
            answer = await http.get(path, headers={"User-Agent": agent})
            assert answer.status_code == 302
            assert answer.headers["location"] == "https://valdaiclub.com/events/announcements/russia-dprk-treaty/"
        elsewhere = path.split("/https:")[0] + "/https://evil.example/"
        assert (await http.get(elsewhere, headers={"User-Agent": BROWSER})).status_code == 404
        assert (await http.get(f"/events/{EVENT}", headers={"User-Agent": BROWSER})).status_code == 200

    report = await runtime.operations.reach.report(EVENT, refresh=True)
    assert report is not None
    totals = {p.platform: p for p in report.platforms}
    assert totals[Platform.VK].views == 1234 and totals[Platform.VK].engagement == 56 + 7
    assert totals[Platform.X].views == 987 and totals[Platform.X].engagement == 12 + 3 + 2
    assert totals[Platform.TELEGRAM].views is None and totals[Platform.TELEGRAM].engagement == 7
    assert "not available on this platform" in (totals[Platform.TELEGRAM].note or "")
    assert totals[Platform.DZEN].views is None and totals[Platform.DZEN].engagement is None
    assert totals[Platform.DZEN].note == "not available on this platform: Dzen has no API to read an item back"
    assert totals[Platform.TELEGRAM].clicks == 1 and report.clicks == 1 and report.page_views == 1
    telegram = next(p for p in report.posts if p.target == "telegram")
    assert (telegram.engagement, telegram.clicks) == ({"reactions": 7}, 1)
    assert report.refresh is not None and report.refresh.read == {"vk": 1, "x": 1}
    assert report.refresh.cost == Decimal("0.005") == report.cost  # one post read on X
    assert fakes.x.read == [fakes.x.tweets[0].id] and fakes.vk.reads == [[f"-89190013_{wall.post_id}"]]
    await runtime.aclose()

    # The same, from the terminal, as one JSON document (the estimate goes to stderr first).
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, app, ["--config", "config", "report", EVENT, "--refresh", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    platforms = {p["platform"]: p for p in data["platforms"]}
    assert platforms["vk"]["views"] == 1234 and platforms["x"]["views"] == 987 and platforms["x"]["views_are"] == \
        "impressions"
    assert platforms["dzen"]["views"] is None and "not available" in platforms["dzen"]["note"]
    assert {row["target"] for row in data["posts"]} == {"telegram", "telegram_ru", "vk", "x", "dzen"}
    assert data["refresh"]["read"] == {"vk": 1, "x": 1} and data["totals"]["clicks"] == 1
    assert "reading 1 of 1 post(s) on x costs $0.005" in result.stderr


async def test_posts_are_read_1h_24h_and_7_days_after_they_went_out_within_the_budget(
    reach_env: Platforms, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    fakes = reach_env
    clock = Clock(IMPORTED)
    runtime = await announced(clock, database_url)
    reach = runtime.operations.reach
    store = reach.store
    assert await reach.sweep() == 0  # nothing due yet; the readings are planned
    slots = sorted((r.target, r.slot) for r in store.readings(EVENT))
    assert slots == [("vk", "168h"), ("vk", "1h"), ("vk", "24h"), ("x", "168h"), ("x", "1h"), ("x", "24h")]
    fakes.vk.posts[0].views = 10
    clock.now = ANNOUNCED + timedelta(hours=1)
    assert await reach.sweep() == 2
    fakes.vk.posts[0].views = 250
    clock.now = ANNOUNCED + timedelta(hours=2)
    assert await reach.sweep() == 0
    clock.now = ANNOUNCED + timedelta(hours=24)
    fakes.vk.too_many_rps()  # VK's error 6: tried again as soon as VK allows, like a post
    assert await reach.sweep() == 1  # X read; VK waits a second
    retrying = next(r for r in store.readings(EVENT) if r.target == "vk" and r.slot == "24h")
    assert retrying.state == "retrying" and "error 6" in (retrying.error or "")
    clock.now += timedelta(seconds=2)
    assert await reach.sweep() == 1
    assert [r.metrics.get("views") for r in store.readings(EVENT) if r.target == "vk" and r.state == "done"] == \
        [10, 250]
    clock.now = ANNOUNCED + timedelta(days=7)
    fakes.x.tweets[0].metrics["impression_count"] = 500
    await reach.sweep()
    assert len(fakes.x.read) == 3  # a new day
    report = await reach.report(EVENT)
    assert report is not None
    assert report.series[Platform.VK][-1][1] == 250 and report.series[Platform.X][-1][1] == 500
    await runtime.aclose()


async def test_a_reading_that_fails_never_touches_delivery(reach_env: Platforms, monkeypatch: pytest.MonkeyPatch,
                                                           database_url: str) -> None:
    monkeypatch.delenv("ANNOUNCE_BOT_TARGETS__VK__SERVICE_TOKEN")  # the community token reads nothing: error 27
    fakes = reach_env
    clock = Clock(IMPORTED)
    runtime = await announced(clock, database_url)
    clock.now = ANNOUNCED + timedelta(hours=1)
    fakes.x.server_error()
    await runtime.operations.reach.sweep()
    readings = {r.target: r for r in runtime.operations.reach.store.readings(EVENT) if r.slot == "1h"}
    assert readings["vk"].state == "failed" and "set service_token" in (readings["vk"].error or "")
    assert readings["x"].state == "retrying"  # a 503: read again later, with back-off
    assert any("reading the reach of posts on vk failed" in alert for alert in runtime.alerts.sent)
    # Posting goes on as before on both: the 1-day reminder goes out to VK and X.
    clock.now = datetime(2024, 11, 26, 8, 0, tzinfo=UTC)
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()
    reminders = {p.target: p.state for p in runtime.store.posts(EVENT) if p.step_id == "reminder-1d"}
    # (not to Dzen: a reminder goes there only when its step names it)
    assert reminders == {"telegram": PostState.SENT, "telegram_ru": PostState.SENT, "vk": PostState.SENT,
                         "x": PostState.SENT}
    await runtime.aclose()


async def test_reading_x_costs_what_the_estimate_says_and_stops_at_the_monthly_cap(
    reach_env: Platforms, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_REACH__X_MONTHLY_CAP", "0.005")  # one post read a month
    fakes = reach_env
    clock = Clock(IMPORTED)
    runtime = await two_posts_on_x(clock, database_url)
    reach = runtime.operations.reach
    (vk, x) = reach.estimate(EVENT)
    assert (vk.target, vk.posts, vk.allowed, vk.cost) == ("vk", 1, 1, Decimal(0))
    assert (x.target, x.posts, x.allowed, x.cost) == ("x", 2, 1, Decimal("0.005"))
    assert x.note is not None and "the month's cap of $0.005 on X" in x.note
    done = await reach.refresh(EVENT)
    assert done.read == {"vk": 1, "x": 1} and done.cost == Decimal("0.005") and len(fakes.x.read) == 1
    assert any("x: 1 post(s) not read: over the month's cap" in problem for problem in done.problems)
    assert reach.estimate(EVENT)[1].allowed == 0  # spent
    await runtime.aclose()


async def test_a_reading_over_the_days_budget_waits_for_the_next_day(
    reach_env: Platforms, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_REACH__BUDGET", '{"vk": 100, "x": 1}')  # one X read a day
    fakes = reach_env
    clock = Clock(IMPORTED)
    runtime = await two_posts_on_x(clock, database_url)
    reach = runtime.operations.reach
    await reach.sweep()
    clock.now = ANNOUNCED + timedelta(hours=1)
    assert await reach.sweep() == 2  # VK's and one of X's
    waiting = [r for r in reach.store.readings(EVENT) if r.target == "x" and r.slot == "1h" and r.state != "done"]
    assert len(waiting) == 1 and waiting[0].state == "retrying" and len(fakes.x.read) == 1
    assert "over the day's budget of 1 reads on x: read at 2024-11-21 00:00 UTC" in (waiting[0].error or "")
    clock.now = datetime(2024, 11, 21, 0, 0, tzinfo=UTC)
    assert await reach.sweep() == 1 and len(fakes.x.read) == 2
    await runtime.aclose()


def test_the_report_command_prints_tables_and_writes_the_csv_and_the_printable_page(workdir: Path) -> None:
    runner = CliRunner()
    posted = runner.invoke(app, ["--config", "config", "post", EVENT, "announcement", "--again"])
    assert posted.exit_code == 0, posted.output
    result = runner.invoke(app, ["--config", "config", "report", EVENT, "--csv", "reach.csv", "--png", "reach.png"],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "published to the local outbox: nothing to read" in result.output  # no credentials here
    assert "no credentials: its posts go to the local outbox, nothing to read" in result.output  # VK, X
    assert "not available on this platform: Dzen has no API to read an item back" in result.output
    assert "subscribers reminded: 0 · page views: 0" in result.output
    rows = (workdir / "reach.csv").read_text().splitlines()
    assert rows[0].startswith("row,target,platform,kind,step,sent_at") and len(rows) == 1 + 5 + 4 + 1
    assert (workdir / "reach.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    missing = runner.invoke(app, ["--config", "config", "report", "no-such-event"])
    assert missing.exit_code == 2 and "no event 'no-such-event'" in missing.output

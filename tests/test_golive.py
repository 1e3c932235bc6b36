"""Going live: the stream links set once, the live posts sent once, the announcement pinned once, the public
page and the subscribers' live reminder, whatever is pressed twice; from the operations layer and the CLI."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_config
from bot.domain import PostKind, PostState
from bot.importing import import_events
from bot.runtime import Runtime
from bot.storage import Store, open_database
from bot.storage.chat import ChatStore
from bot.storage.reminders import ReminderQueue
from bot.streams import parse_links, platform_of_link
from tests.clock import Clock
from tests.conftest import Platforms

START = datetime(2024, 11, 27, 8, 0, tzinfo=UTC)
IMPORTED = datetime(2024, 11, 1, tzinfo=UTC)
STREAM = "https://valdaiclub.com/multimedia/video/russia-dprk-treaty/"


def without_links(workdir: Path) -> None:
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    path.write_text(re.sub(r"\nlive:\n(  .*\n)+", "\n", path.read_text()))


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__RATE_LIMIT", "false")


def build(database_url: str, clock: Clock) -> Runtime:
    runtime = Runtime.build(load_config(Path("config")), store=Store(open_database(database_url)), clock=clock,
                            notify=False)
    import_events(runtime.config, runtime.store, IMPORTED)
    return runtime


def live_states(runtime: Runtime) -> dict[str, PostState]:
    return {p.target: p.state for p in runtime.store.posts("russia-dprk-treaty") if p.kind is PostKind.LIVE}


async def test_live_posts_wait_for_the_link_and_going_live_twice_sends_each_once(
    database_url: str, platforms: Platforms, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__PIN_LIVE", "true")
    without_links(workdir)
    clock = Clock(IMPORTED)
    runtime = build(database_url, clock)
    ChatStore(runtime.store.sessions).subscribe(11, 11, "en", "russia-dprk-treaty")
    assert set(live_states(runtime).values()) == {PostState.WAITING}
    clock.now = START - timedelta(days=7)
    await runtime.operations.publish("russia-dprk-treaty", PostKind.ANNOUNCEMENT, platforms=None)
    clock.now = START
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()
    assert set(live_states(runtime).values()) == {PostState.WAITING}  # due, but waiting for a stream link
    clock.now = START + timedelta(minutes=3)
    links = {"website": STREAM, "telegram": "https://t.me/valdaiclub"}
    first = await runtime.operations.go_live("russia-dprk-treaty", links, actor="olga")
    assert first.ok, first.message
    assert {r.target: r.result.value for r in first.posts} == {"telegram": "sent", "telegram_ru": "sent",
                                                               "vk": "sent", "x": "sent"}
    assert first.reminders == 1
    live = [m["text"] for m in platforms.telegram.messages if "Live now" in m.get("text", "") and not m.get("edits")]
    assert len(live) == 1 and "https://t.me/valdaiclub" in live[0]
    assert len(platforms.telegram.pinned) == 1  # the announcement, pointed at the stream
    event = runtime.store.event("russia-dprk-treaty")
    assert event is not None and event.live == links  # what the public page shows, at once
    sent = platforms.sent()
    again = await runtime.operations.go_live("russia-dprk-treaty", links, actor="ivan")
    assert again.ok and [r.result.value for r in again.posts] == [] and again.reminders == 0
    assert platforms.sent() == sent and len(platforms.telegram.pinned) == 1
    assert ReminderQueue(runtime.store.sessions).progress("russia-dprk-treaty")[0].total == 1
    # A re-import of the event file (which has no links) keeps the links set at go-live.
    import_events(runtime.config, runtime.store, clock.now)
    assert runtime.store.event("russia-dprk-treaty").live == links  # type: ignore[union-attr]
    await runtime.aclose()


async def test_links_given_before_the_start_wait_for_the_live_step(database_url: str, platforms: Platforms,
                                                                   workdir: Path) -> None:
    without_links(workdir)
    clock = Clock(START - timedelta(hours=1))
    runtime = build(database_url, clock)
    result = await runtime.operations.go_live("russia-dprk-treaty", {"website": STREAM}, actor="olga")
    assert result.ok and result.posts == () and "go out at their time" in result.message
    assert set(live_states(runtime).values()) == {PostState.PLANNED}
    assert [m for m in platforms.telegram.messages if "Live now" in m.get("text", "")] == []
    bad = await runtime.operations.go_live("russia-dprk-treaty", {"vk": "not a link"}, actor="olga")
    assert not bad.ok and "not an http(s) URL" in bad.message
    await runtime.aclose()


def test_a_bare_link_is_put_on_the_platform_it_belongs_to() -> None:
    assert platform_of_link("https://t.me/valdaiclub/123") == "telegram"
    assert platform_of_link("https://vkvideo.ru/video-1_2") == "vk"
    assert platform_of_link("https://m.vk.com/video-1_2") == "vk"
    assert platform_of_link("https://x.com/i/broadcasts/1") == "x"
    assert platform_of_link("https://dzen.ru/video/watch/1") == "dzen"
    assert platform_of_link("https://notvk.com/x") == "website"
    assert platform_of_link(STREAM) == "website"


def test_the_live_command(workdir: Path) -> None:
    runner = CliRunner()
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    start = datetime.now(UTC) - timedelta(minutes=5)
    path.write_text(path.read_text().replace("start: 2024-11-27 11:00", f"start: {start:%Y-%m-%dT%H:%M}+00:00")
                    .replace("end: 2024-11-27 13:00", f"end: {start + timedelta(hours=2):%Y-%m-%dT%H:%M}+00:00"))
    first = runner.invoke(app, ["--config", "config", "live", "russia-dprk-treaty", "--link", STREAM],
                          env={"COLUMNS": "300"})
    assert first.exit_code == 0, first.output
    assert "russia-dprk-treaty is live" in first.output
    files = sorted((workdir / "var" / "outbox").rglob("*live*"))
    assert {f.parent.name for f in files} == {"telegram", "vk", "x"}
    second = runner.invoke(app, ["--config", "config", "live", "russia-dprk-treaty", "--link", STREAM])
    assert second.exit_code == 0 and "had gone out already" in second.output
    assert sorted((workdir / "var" / "outbox").rglob("*live*")) == files


def test_one_parser_for_keyed_and_bare_links_keeps_a_query_string_whole() -> None:
    query = "https://vkvideo.ru/video-1_2?list=ab"
    assert parse_links([query]) == {"vk": query}  # the CLI's copy once split this at the "=" of its query
    assert parse_links([f"vk={query}", f"Website={STREAM}"]) == {"vk": query, "website": STREAM}
    assert parse_links(["https://youtu.be/x1", "  ", "x=https://x.com/i/broadcasts/1"]) == {
        "youtube": "https://youtu.be/x1", "x": "https://x.com/i/broadcasts/1"}


async def test_a_misspelt_key_is_refused_with_the_valid_ones_and_nothing_is_set(
    database_url: str, platforms: Platforms, workdir: Path
) -> None:
    runtime = build(database_url, Clock(START + timedelta(hours=3)))
    before = runtime.store.record("russia-dprk-treaty")
    result = await runtime.operations.go_live("russia-dprk-treaty", {"vkk": "https://vkvideo.ru/video-1_2"},
                                              actor="olga")
    assert not result.ok
    assert "'vkk' is not a place to watch (use website, telegram, vk, x, dzen" in result.message
    assert "did you mean 'vk'?" in result.message
    after = runtime.store.record("russia-dprk-treaty")
    assert before is not None and after is not None and after.version == before.version
    assert "vkk" not in after.event.live
    ftp = await runtime.operations.go_live("russia-dprk-treaty", {"vk": "ftp://vkvideo.ru/1"}, actor="olga")
    assert not ftp.ok and "vk: 'ftp://vkvideo.ru/1' is not an http(s) URL" in ftp.message
    await runtime.aclose()


def test_the_live_command_refuses_a_misspelt_key(workdir: Path) -> None:
    result = CliRunner().invoke(app, ["--config", "config", "live", "russia-dprk-treaty", "--link",
                                      "vkk=https://vkvideo.ru/video-1_2"], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert "did you mean 'vk'?" in result.output
    assert not list((workdir / "var" / "outbox").rglob("*live*"))

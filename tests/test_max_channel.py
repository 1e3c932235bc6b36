"""A MAX channel as a target of the whole bot (issue 21's checks): `announce-bot post` sends one message to the
configured chat with the cover and the token only in the Authorization header, a second `post` is refused; go-live
edits and pins the announcement once; a new time edits it; a connection dropped after the request left makes the
post unknown, never a second copy. Against the fake MAX Bot API on 127.0.0.1, on the embedded database."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_config
from bot.domain import PostKind, PostState
from bot.importing import import_events
from bot.runtime import Runtime
from bot.storage import Store, open_database
from tests.clock import Clock
from tests.fakes.base import record_then_drop
from tests.fakes.max import TEXT_LIMIT, FakeMax

TOKEN = "max-e2e-bot-token-SECRET-0987654321"
CHANNEL = -72000000000042
EVENT = "russia-dprk-treaty"
START = datetime(2024, 11, 27, 8, 0, tzinfo=UTC)
IMPORTED = datetime(2024, 11, 1, tzinfo=UTC)
STREAM = "https://valdaiclub.com/multimedia/video/russia-dprk-treaty/"

runner = CliRunner()


@pytest.fixture
def fake(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMax]:
    """The tests' config with a MAX target added to the settings and to every step, the event with a cover served by
    the fake's image host, and the bot pointed at the fake by the environment only."""
    with FakeMax(TOKEN, CHANNEL) as server:
        out = io.BytesIO()
        Image.new("RGB", (64, 36), (15, 43, 70)).save(out, "JPEG")
        cover = server.serve_file("/files/cover.jpg", out.getvalue(), "image/jpeg")  # type: ignore[attr-defined]
        config = workdir / "config"
        with (config / "settings.toml").open("a", encoding="utf-8") as settings:
            settings.write(f'\n[targets.max]\nplatform = "max"\nlang = "ru"\nchat_id = "{CHANNEL}"\n')
        campaign = config / "campaign.yaml"
        campaign.write_text(campaign.read_text().replace("platforms: [telegram, vk, x, dzen]",
                                                         "platforms: [telegram, vk, x, dzen, max]")
                            .replace("platforms: [telegram, vk, x]\n", "platforms: [telegram, vk, x, max]\n"))
        event = config / "events" / f"{EVENT}.yaml"
        event.write_text(f"{event.read_text()}\ncover:\n  url: {cover}\n")
        monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__MAX__TOKEN", TOKEN)
        monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__MAX__API_BASE_URL", server.base_url)
        monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__MAX__TIMEOUT", "2")
        monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__RATE_LIMIT", "false")
        monkeypatch.setenv("COLUMNS", "250")
        yield server  # type: ignore[misc]


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--config", "config", *args])


def max_state(output: str) -> str | None:
    """The state the CLI's `post` reports for the max target."""
    for line in output.splitlines():
        words = line.split()
        if "max" in words:
            return next((w for w in words if w in ("sent", "refused", "unknown", "failed", "retrying")), None)
    return None


def test_post_sends_one_message_to_the_chat_with_the_cover_and_a_second_post_is_refused(
    fake: FakeMax, workdir: Path
) -> None:
    first = invoke("post", EVENT, "announcement", "--platform", "max")
    assert first.exit_code == 0, first.output
    assert max_state(first.output) == "sent"

    [send] = fake.calls("POST /messages")
    assert send.params["chat_id"] == str(CHANNEL) and send.headers["authorization"] == TOKEN
    assert "access_token" not in send.params
    assert all(TOKEN not in r.path and TOKEN.encode() not in r.body for r in fake.requests)
    [message] = fake.channel_posts()
    assert message.image is not None and message.format == "html" and message.stripped == []
    assert len(message.source) <= TEXT_LIMIT
    assert "Договор" in message.text or "договор" in message.text  # the Russian target's text

    again = invoke("post", EVENT, "announcement", "--platform", "max")
    assert again.exit_code == 1 and max_state(again.output) == "refused"
    assert "was already sent" in again.output
    assert len(fake.calls("POST /messages")) == 1 and len(fake.channel_posts()) == 1
    status = json.loads(invoke("status", "--json").stdout)
    [post] = [p for p in status["posts"] if p["step"] == "announcement" and p["target"] == "max"]
    assert post["state"] == "sent"
    assert TOKEN not in first.output + again.output


def build(database_url: str, clock: Clock) -> Runtime:
    runtime = Runtime.build(load_config(Path("config")), store=Store(open_database(database_url)), clock=clock,
                            notify=False, schedules=True)
    import_events(runtime.config, runtime.store, IMPORTED)
    return runtime


def move(workdir: Path, old: str, new: str) -> None:
    path = workdir / "config" / "events" / f"{EVENT}.yaml"
    path.write_text(path.read_text().replace(old, new))


async def test_a_new_time_edits_the_announcement_and_go_live_edits_and_pins_it_once(
    fake: FakeMax, workdir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__MAX__PIN_LIVE", "true")
    clock = Clock(IMPORTED)
    runtime = build(database_url, clock)
    clock.now = START - timedelta(days=7)
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()
    [announcement] = fake.channel_posts()
    assert "27" in announcement.text and announcement.image is not None

    move(workdir, "start: 2024-11-27 11:00", "start: 2024-11-28 11:00")
    move(workdir, "end: 2024-11-27 13:00", "end: 2024-11-28 13:00")
    clock.now += timedelta(hours=1)
    await runtime.operations.sync_files()
    await runtime.dispatcher.drain()
    edited = next(m for m in fake.channel_posts() if m.mid == announcement.mid)
    assert edited.edits == 1 and "28" in edited.text and edited.image is not None  # the cover stays
    assert [p.state for p in runtime.store.posts(EVENT) if p.target == "max" and p.edits is not None] == \
        [PostState.SENT]
    notice = [m for m in fake.channel_posts() if m.mid != announcement.mid]
    assert len(notice) == 1 and "Новое время" in notice[0].text  # and the change notice, once
    before = {m.mid for m in fake.channel_posts()}

    clock.now = START + timedelta(days=1, minutes=3)
    first = await runtime.operations.go_live(EVENT, {"website": STREAM, "max": "https://max.ru/valdaiclub"},
                                             actor="olga")
    assert first.ok, first.message
    assert {r.target: r.result.value for r in first.posts}["max"] == "sent"
    pinned = next(m for m in fake.channel_posts() if m.mid == announcement.mid)
    assert pinned.edits == 2 and fake.pins == [(CHANNEL, announcement.mid, False)]
    live = [m for m in fake.channel_posts() if m.mid not in before]
    assert len(live) == 1 and "https://max.ru/valdaiclub" in live[0].source
    sent = [(m.mid, m.source) for m in fake.channel_posts()]

    again = await runtime.operations.go_live(EVENT, {"website": STREAM, "max": "https://max.ru/valdaiclub"},
                                             actor="ivan")
    assert again.ok and again.posts == ()
    assert [(m.mid, m.source) for m in fake.channel_posts()] == sent and len(fake.pins) == 1
    await runtime.aclose()


async def test_a_connection_dropped_after_the_request_left_is_unknown_and_never_sent_twice(
    fake: FakeMax, database_url: str
) -> None:
    clock = Clock(IMPORTED)
    runtime = build(database_url, clock)
    fake.fail_call("POST /messages", 1, record_then_drop())  # MAX publishes it, the answer never comes
    clock.now = START - timedelta(days=7)
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()
    [post] = [p for p in runtime.store.posts(EVENT) if p.target == "max" and p.kind is PostKind.ANNOUNCEMENT]
    assert post.state is PostState.UNKNOWN and "may or may not have been published" in (post.reason or "")
    assert len(fake.channel_posts()) == 1

    for _ in range(3):  # later sweeps, after the retry back-off would have passed
        clock.now += timedelta(minutes=30)
        await runtime.dispatcher.dispatch()
        await runtime.dispatcher.drain()
    assert len(fake.calls("POST /messages")) == 1 and len(fake.channel_posts()) == 1
    refused = await runtime.operations.publish(EVENT, PostKind.ANNOUNCEMENT, platforms=None)
    assert [r.result.value for r in refused if r.target == "max"] == ["refused"]
    assert len(fake.channel_posts()) == 1
    await runtime.aclose()

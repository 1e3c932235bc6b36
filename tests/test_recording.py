"""The recording: a summary waiting for it goes out once when it is set, and carries it; one that went out without
it is edited to carry it (a reply on X); set from the operations layer, the CLI and the dashboard alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_config
from bot.domain import Campaign, PostKind, PostState, Step
from bot.importing import import_events
from bot.runtime import Runtime
from bot.storage import Store, open_database
from tests.conftest import Platforms
from tests.web.support import Clock

EVENT = "russia-dprk-treaty"
END = datetime(2024, 11, 27, 10, 0, tzinfo=UTC)  # 13:00 Moscow time
IMPORTED = datetime(2024, 11, 1, tzinfo=UTC)
AFTER = END + timedelta(hours=4)  # the summary step is due at end + 3h
VIDEO = "https://vkvideo.ru/video-89190013_456239100"
RUTUBE = "https://rutube.ru/video/0f1e2d3c4b5a/"


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__RATE_LIMIT", "false")


def summary_requires(workdir: Path, what: str) -> None:
    path = workdir / "config" / "campaign.yaml"
    path.write_text(path.read_text().replace("requires_report: true", f"requires: {what}"))


def build(database_url: str, clock: Clock) -> Runtime:
    runtime = Runtime.build(load_config(Path("config")), store=Store(open_database(database_url)), clock=clock,
                            notify=False)
    import_events(runtime.config, runtime.store, IMPORTED)
    return runtime


def summaries(runtime: Runtime) -> dict[str, PostState]:
    return {p.target: p.state for p in runtime.store.posts(EVENT) if p.kind is PostKind.SUMMARY and p.edits is None}


async def test_a_summary_waiting_for_the_recording_goes_out_once_when_it_is_set_and_carries_it(
    database_url: str, platforms: Platforms, workdir: Path
) -> None:
    summary_requires(workdir, "recording")
    clock = Clock(IMPORTED)
    runtime = build(database_url, clock)
    assert set(summaries(runtime).values()) == {PostState.WAITING}
    waiting = next(p for p in runtime.store.posts(EVENT) if p.kind is PostKind.SUMMARY)
    assert waiting.reason is not None and "no recording yet" in waiting.reason
    clock.now = AFTER
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()
    assert set(summaries(runtime).values()) == {PostState.WAITING}  # due, the report is there: still waits
    assert platforms.sent() == {"telegram": [], "telegram_ru": [], "vk": [], "x": []}

    result = await runtime.operations.recording(EVENT, {"vk": VIDEO}, actor="olga")
    assert result.ok, result.message
    assert {r.target: r.result.value for r in result.posts} == dict.fromkeys(
        ["telegram", "telegram_ru", "vk", "x", "dzen"], "sent")
    sent = platforms.sent()
    for name in ("telegram", "telegram_ru", "vk"):
        assert sum(VIDEO in text for text in sent[name]) == 1, name  # in one part of the summary, once
    assert VIDEO in platforms.x.tweets[-1].text  # X: the link at the end of the thread
    assert "Watch the recording" in platforms.telegram.messages[-1]["text"]
    feed = (workdir / "var" / "feeds" / "dzen.xml").read_text()
    assert VIDEO in feed

    again = await runtime.operations.recording(EVENT, {"vk": VIDEO}, actor="ivan")
    assert again.ok and again.posts == () and "set already" in again.message
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()
    assert platforms.sent() == sent  # nothing twice
    # A re-import of the file (which has no recording) keeps it.
    import_events(runtime.config, runtime.store, clock.now)
    assert runtime.store.event(EVENT).recording == {"vk": VIDEO}  # type: ignore[union-attr]
    assert platforms.sent() == sent
    await runtime.aclose()


async def test_a_recording_added_after_the_summary_went_out_edits_it(
    database_url: str, platforms: Platforms, workdir: Path
) -> None:
    clock = Clock(IMPORTED)
    runtime = build(database_url, clock)  # the fixture's campaign: the summary waits for the report, which is there
    clock.now = AFTER
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()
    assert set(summaries(runtime).values()) == {PostState.SENT}
    thread = [t.id for t in platforms.x.tweets]
    wall = len(platforms.vk.posts)
    result = await runtime.operations.recording(EVENT, {"rutube": RUTUBE}, actor="olga")
    assert result.ok, result.message
    edits = {r.target: r.result.value for r in result.posts}
    assert edits == dict.fromkeys(["telegram", "telegram_ru", "vk", "x", "dzen"], "sent")
    edited = [m for m in platforms.telegram.messages if m.get("edits")]
    assert len(edited) == 1 and RUTUBE in edited[0]["text"]
    assert len(platforms.vk.posts) == wall and platforms.vk.posts[-1].edits == 1
    assert RUTUBE in platforms.vk.posts[-1].message
    reply = platforms.x.tweets[-1]  # X cannot edit: the recording as a reply to the thread
    assert reply.in_reply_to == thread[-1] and RUTUBE in reply.text and "Recording" in reply.text
    # A second recording: the summary is edited once more, to carry both.
    await runtime.operations.recording(EVENT, {"vk": VIDEO}, actor="olga")
    text = next(m for m in platforms.telegram.messages if m.get("edits"))["text"]
    assert RUTUBE in text and VIDEO in text
    await runtime.aclose()


async def test_a_recording_in_the_event_file_edits_the_published_summary_too(
    database_url: str, platforms: Platforms, workdir: Path
) -> None:
    clock = Clock(IMPORTED)
    runtime = build(database_url, clock)
    clock.now = AFTER
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()
    path = workdir / "config" / "events" / f"{EVENT}.yaml"
    path.write_text(path.read_text() + "recording:\n  youtube: https://www.youtube.com/watch?v=abc\n")
    await runtime.operations.sync_files()
    posts = await runtime.operations.dispatcher.dispatch()
    await runtime.dispatcher.drain()
    assert posts == 5  # one edit per published summary
    assert any("youtube.com/watch?v=abc" in m["text"] for m in platforms.telegram.messages if m.get("edits"))
    await runtime.aclose()


def test_requires_report_is_the_older_spelling_of_requires_report() -> None:
    old = Step.model_validate({"id": "summary", "kind": "summary", "at": "end + 3h", "requires_report": True})
    assert old.requires == "report"
    with pytest.raises(ValueError, match="disagree"):
        Step.model_validate({"id": "s", "kind": "summary", "at": "end", "requires_report": True,
                             "requires": "recording"})
    campaign = Campaign.model_validate({"steps": [{"id": "s", "kind": "summary", "at": "end", "requires": "any"}]})
    assert campaign.steps[0].requires == "any"


def test_the_recording_command(workdir: Path) -> None:
    summary_requires(workdir, "recording")
    # The event ended 3 h 10 min ago: its summary is due now, and waits for the recording.
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3, minutes=10)
    path = workdir / "config" / "events" / f"{EVENT}.yaml"
    start = end - timedelta(hours=2)
    path.write_text(path.read_text().replace("start: 2024-11-27 11:00", f"start: {start:%Y-%m-%dT%H:%M}+00:00")
                    .replace("end: 2024-11-27 13:00", f"end: {end:%Y-%m-%dT%H:%M}+00:00"))
    runner = CliRunner()
    first = runner.invoke(app, ["--config", "config", "recording", EVENT, VIDEO, f"rutube={RUTUBE}"],
                          env={"COLUMNS": "300"})
    assert first.exit_code == 0, first.output
    assert "recording set" in first.output
    outbox = workdir / "var" / "outbox"
    files = sorted(outbox.rglob("*summary*"))
    assert {f.parent.name for f in files} == {"telegram", "vk", "x"}
    for place in ("telegram", "vk", "x"):
        text = "".join(f.read_text() for f in files if f.parent.name == place)
        assert VIDEO in text or RUTUBE in text, place
    second = runner.invoke(app, ["--config", "config", "recording", EVENT, VIDEO])
    assert second.exit_code == 0 and "set already" in second.output
    assert sorted(outbox.rglob("*summary*")) == files
    bad = runner.invoke(app, ["--config", "config", "recording", EVENT, "youtube=not-a-link"])
    assert bad.exit_code == 1 and "not an http(s) URL" in bad.output

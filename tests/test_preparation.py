"""The plan is what goes out: every post rendered and checked when an event is saved (the dashboard, a file, a
reload), steps already past following their `catch_up`, problems told then, and the sender sending what was
stored; against the fake platforms, on both databases, with an injected clock."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import update

from bot.config import load_config
from bot.config.export import event_yaml
from bot.domain import Approval, Event, EventStatus, PlannedPost, PostKind, PostState
from bot.importing import import_events
from bot.planning import plan
from bot.preparation import prepare, targets
from bot.runtime import Runtime
from bot.storage import Store, open_database
from bot.storage.tables import PlannedPostRow
from tests.clock import Clock
from tests.conftest import Platforms

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__RATE_LIMIT", "false")


def build(database_url: str, clock: Clock) -> Runtime:
    return Runtime.build(load_config(Path("config")), store=Store(open_database(database_url)), clock=clock,
                         notify=False, schedules=True)


def ahead(reference: Event, start: datetime, event_id: str = "spring-forum", **changes: object) -> Event:
    """The reference event moved to `start` (as a new event of its own)."""
    length = reference.end - reference.start
    return reference.model_copy(update={"id": event_id, "start": start.astimezone(reference.zone),
                                        "end": (start + length).astimezone(reference.zone), "past": False,
                                        **changes})


def states(runtime: Runtime, event_id: str = "spring-forum") -> dict[tuple[str, str], PlannedPost]:
    return {(p.step_id, p.target): p for p in runtime.store.posts(event_id)}


async def at(runtime: Runtime, clock: Clock, moment: datetime) -> None:
    clock.now = moment
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()


# --- first sight: steps already past follow their catch_up -------------------------------------------------


async def test_an_event_added_three_days_ahead_gets_its_announcement_once(
    database_url: str, platforms: Platforms, reference_event: Event
) -> None:
    # It was "already past when first planned" and skipped, although the step says catch_up: before_end.
    clock = Clock(NOW)
    runtime = build(database_url, clock)
    saved = await runtime.operations.editing.save(ahead(reference_event, NOW + timedelta(days=3)), actor="olga",
                                                  new=True)
    assert saved.ok, saved.message
    assert "announcement goes out now: its time, 7 days before the start, has passed" in saved.message
    await runtime.dispatcher.drain()  # saving sent what was due at once
    posts = states(runtime)
    assert {posts["announcement", t].state for t in ("telegram", "vk", "x", "dzen")} == {PostState.SENT}
    assert posts["reminder-1d", "telegram"].state is PostState.PLANNED
    assert posts["reminder-1d", "telegram"].due_at == NOW + timedelta(days=2)  # still ahead: at its time
    await at(runtime, clock, NOW + timedelta(seconds=5))
    await at(runtime, clock, NOW + timedelta(minutes=5))  # a second sweep sends nothing again
    announced = [t for t in platforms.sent()["telegram"] if "Dmitry Kiku" in t]
    assert len(announced) == 1 and len(platforms.vk.posts) == 1
    assert states(runtime)["announcement", "telegram"].state is PostState.SENT
    await runtime.aclose()


async def test_a_reminder_whose_moment_passed_is_superseded_by_the_next_one(
    database_url: str, reference_event: Event, platforms: Platforms
) -> None:
    clock = Clock(NOW)
    runtime = build(database_url, clock)
    saved = await runtime.operations.editing.save(ahead(reference_event, NOW + timedelta(hours=3)), actor="olga",
                                                  new=True)
    assert saved.ok, saved.message
    posts = states(runtime)
    assert posts["reminder-1d", "telegram"].state is PostState.SKIPPED
    assert (posts["reminder-1d", "telegram"].reason or "").startswith("superseded by reminder-1h")
    assert posts["reminder-1h", "telegram"].state is PostState.PLANNED  # at its time, two hours from now
    # VK has no 1-hour reminder: the announcement going out now says when it starts.
    assert (posts["reminder-1d", "vk"].reason or "").startswith("superseded by the announcement, going out now")
    assert "reminder-1d skipped: superseded by reminder-1h" in saved.message
    await runtime.aclose()


def test_first_sight_of_an_event_that_is_over_sends_nothing(reference_event: Event) -> None:
    config = load_config(Path("tests/fixtures/config"))
    items = plan(reference_event, config.campaign, targets(config), NOW)
    assert {(item.late.send if item.late else None) for item in items} == {False}
    assert all("the event was over" in item.late.reason for item in items if item.late)


def test_steps_still_ahead_keep_their_times(reference_event: Event) -> None:
    config = load_config(Path("tests/fixtures/config"))
    event = ahead(reference_event, NOW + timedelta(days=30))
    assert [item for item in plan(event, config.campaign, targets(config), NOW) if item.late] == []


# --- a campaign change reaches every event -----------------------------------------------------------------


async def test_a_campaign_change_reaches_events_made_in_the_dashboard(
    database_url: str, reference_event: Event, workdir: Path
) -> None:
    # Adding `approval: required` and reloading said "2 events, 0 changed": the dashboard's event kept `none`.
    clock = Clock(NOW)
    runtime = build(database_url, clock)
    assert (await runtime.operations.editing.save(ahead(reference_event, NOW + timedelta(days=10)), actor="olga",
                                                  new=True)).ok
    assert states(runtime)["announcement", "telegram"].approval is Approval.NONE
    campaign = workdir / "config" / "campaign.yaml"
    campaign.write_text(campaign.read_text().replace("at: start - 7d\n", "at: start - 7d\n    approval: required\n"))
    reloaded = await runtime.operations.reload(actor="olga")
    assert reloaded.ok and reloaded.report is not None, reloaded.message
    assert [r.outcome for r in reloaded.report.results if r.event_id == "spring-forum"] == ["updated"]
    assert {p.approval for (step, _), p in states(runtime).items() if step == "announcement"} == {Approval.PENDING}
    await runtime.aclose()


# --- problems told when saving -----------------------------------------------------------------------------


async def test_a_post_that_cannot_fit_is_refused_at_save_with_its_field(
    database_url: str, reference_event: Event
) -> None:
    runtime = build(database_url, Clock(NOW))
    long_report = {"en": "Very long report sentence. " * 150, "ru": "Очень длинный отчёт. " * 150}
    event = ahead(reference_event, NOW + timedelta(days=10), report=long_report)
    result = await runtime.operations.editing.save(event, actor="olga", new=True)
    assert not result.ok and runtime.store.record("spring-forum") is None  # nothing of it stored
    assert list(result.problems) == ["report"]
    assert "summary on x: X: the post needs" in result.problems["report"][0]
    assert "more than the 12 this platform allows" in result.problems["report"][0]
    await runtime.aclose()


async def test_a_start_in_the_past_is_refused_unless_recorded_as_past(
    database_url: str, reference_event: Event
) -> None:
    runtime = build(database_url, Clock(NOW))
    past = ahead(reference_event, NOW - timedelta(days=3))
    refused = await runtime.operations.editing.save(past, actor="olga", new=True)
    assert not refused.ok and list(refused.problems) == ["start"]
    assert "has passed" in refused.problems["start"][0] and "record a past event" in refused.problems["start"][0]
    recorded = await runtime.operations.editing.save(past.model_copy(update={"past": True}), actor="olga", new=True)
    assert recorded.ok
    assert {p.state for p in runtime.store.posts("spring-forum")} <= {PostState.SKIPPED, PostState.WAITING}
    await runtime.aclose()


async def test_an_event_whose_start_passed_with_time_is_not_refused(database_url: str, reference_event: Event) -> None:
    clock = Clock(NOW)
    runtime = build(database_url, clock)
    event = ahead(reference_event, NOW + timedelta(days=1))
    assert (await runtime.operations.editing.save(event, actor="olga", new=True)).ok
    clock.now = NOW + timedelta(days=5)
    stored = runtime.store.record("spring-forum")
    assert stored is not None
    later = await runtime.operations.editing.save(event.model_copy(update={"report": {"en": "It went well."}}),
                                                  actor="olga", expected=stored.version)
    assert later.ok, later.message
    await runtime.aclose()


def test_an_event_file_that_cannot_go_out_keeps_its_last_good_version(
    database_url: str, reference_event: Event, workdir: Path
) -> None:
    store = Store(open_database(database_url))
    config = load_config(Path("config"))
    path = workdir / "config" / "events" / "spring-forum.yaml"
    event = ahead(reference_event, NOW + timedelta(days=10))
    path.write_text(event_yaml(event))
    first = import_events(config, store, NOW)
    assert first.errors == [] and store.record("spring-forum") is not None
    data = yaml.safe_load(path.read_text())
    data["report"] = {"en": "Very long report sentence. " * 150}
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    second = import_events(config, store, NOW)
    (error,) = second.errors
    assert str(error).startswith(f"{path}: report: summary on x: X: the post needs")
    kept = store.record("spring-forum")
    assert kept is not None and kept.event.report == event.report  # the version before stays


# --- the sender sends what was stored ----------------------------------------------------------------------


async def test_the_sender_sends_the_rendering_stored_with_the_plan(
    database_url: str, platforms: Platforms, reference_event: Event
) -> None:
    clock = Clock(NOW)
    runtime = build(database_url, clock)
    assert (await runtime.operations.editing.save(ahead(reference_event, NOW + timedelta(days=10)), actor="olga",
                                                  new=True)).ok
    stored = states(runtime)["announcement", "vk"]
    with_text = {p.id: p for p in runtime.store.posts("spring-forum", text=True)}[stored.id]
    assert with_text.rendering is not None and "Клуб «Валдай» обсудит договор" in with_text.rendering.post().text
    # What is stored is what goes out: a mark written into the stored text reaches VK as it is.
    marked = with_text.rendering.post().model_copy(update={"parts": tuple(
        part.model_copy(update={"text": part.text + " [as stored]"}) for part in with_text.rendering.post().parts)})
    with runtime.store.sessions.begin() as session:
        session.execute(update(PlannedPostRow).where(PlannedPostRow.id == stored.id)
                        .values(rendered=marked.model_dump_json()))
    await at(runtime, clock, NOW + timedelta(days=3, seconds=1))
    assert [p.message.endswith("[as stored]") for p in platforms.vk.posts] == [True]
    await runtime.aclose()


async def test_a_rendering_made_with_another_configuration_is_made_again(
    database_url: str, platforms: Platforms, reference_event: Event, workdir: Path
) -> None:
    clock = Clock(NOW)
    runtime = build(database_url, clock)
    assert (await runtime.operations.editing.save(ahead(reference_event, NOW + timedelta(days=10)), actor="olga",
                                                  new=True)).ok
    template = workdir / "templates" / "announcement.ru.j2"
    template.write_text(template.read_text().replace("Ссылки на прямую трансляцию", "Смотрите: ссылки на трансляцию"))
    assert (await runtime.operations.reload()).ok
    await at(runtime, clock, NOW + timedelta(days=3, seconds=1))
    (post,) = platforms.vk.posts
    assert "Смотрите: ссылки на трансляцию" in post.message
    await runtime.aclose()


# --- messages say what happened ----------------------------------------------------------------------------


async def test_cancel_and_postpone_say_what_they_did(
    database_url: str, platforms: Platforms, reference_event: Event
) -> None:
    clock = Clock(NOW)
    runtime = build(database_url, clock)
    editing = runtime.operations.editing
    assert (await editing.save(ahead(reference_event, NOW + timedelta(days=3)), actor="olga", new=True)).ok
    await at(runtime, clock, NOW + timedelta(seconds=1))  # the announcement goes out
    moved = await editing.postpone("spring-forum", actor="olga", start=NOW + timedelta(days=10))
    assert moved.ok
    assert moved.message.startswith("spring-forum postponed to 17 December 2026, 12:00 (Europe/Moscow): ")
    assert "post(s) moved; the notice goes out now on " in moved.message
    cancelled = await editing.cancel("spring-forum", actor="olga")
    assert cancelled.ok
    unsent = Counter(p.state for p in runtime.store.posts("spring-forum"))[PostState.CANCELLED]
    assert cancelled.message.startswith(f"spring-forum cancelled: {cancelled.sync.stopped if cancelled.sync else 0} ")
    assert unsent >= (cancelled.sync.stopped if cancelled.sync else 0) > 0
    assert "the cancellation notice goes out now on dzen, telegram, telegram_ru, vk, x" in cancelled.message
    assert runtime.store.record("spring-forum").event.status is EventStatus.CANCELLED  # type: ignore[union-attr]
    await runtime.aclose()


def test_prepare_tells_what_goes_out_now(reference_event: Event) -> None:
    from bot.rendering.renderer import Renderer

    config = load_config(Path("tests/fixtures/config"))
    event = ahead(reference_event, NOW + timedelta(days=3))
    prepared = prepare(event, config, Renderer(config.templates_dir), NOW)
    assert prepared.ok
    assert prepared.notes[0] == ("announcement goes out now: its time, 7 days before the start, has passed (on "
                                 "dzen, telegram, telegram_ru, vk, x)")
    rendered = [item for item in prepared.items if item.rendered is not None]
    assert {item.kind for item in rendered} == set(PostKind) - {PostKind.CHANGED}
    assert all(item.rendered_for and item.rendered_for.startswith(prepared.items[0].rendered_for or "?")
               for item in rendered)

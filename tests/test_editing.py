"""Events made and changed outside their files: drafts, the dashboard's source of truth, take-over, postpone,
cancel and withdraw, through the operations layer on a real database; and the CLI's `event new` / `export`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_config, load_event
from bot.domain import Event, EventOrigin, EventStatus, PostKind, PostState
from bot.importing import import_events
from bot.runtime import Runtime
from bot.storage import Store, open_database
from tests.clock import Clock
from tests.conftest import REFERENCE_EVENT_FILE

IMPORTED = datetime(2024, 11, 1, tzinfo=UTC)
ANNOUNCED = datetime(2024, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def runtime(database_url: str, workdir: Path) -> Runtime:
    clock = Clock(IMPORTED)
    return Runtime.build(load_config(Path("config")), store=Store(open_database(database_url)), clock=clock,
                         notify=False)


def _new(reference: Event, event_id: str = "spring-forum", **changes: object) -> Event:
    return reference.model_copy(update={"id": event_id, **changes})


async def test_an_event_made_in_the_dashboard_is_planned_and_its_file_namesake_ignored(
    runtime: Runtime, reference_event: Event, workdir: Path, database_url: str
) -> None:
    editing = runtime.operations.editing
    made = await editing.save(_new(reference_event, "russia-dprk-treaty-2"), actor="olga", new=True)
    assert made.ok and made.event is not None and made.event.origin is EventOrigin.DASHBOARD
    assert made.sync is not None and made.sync.planned == 21
    again = await editing.save(_new(reference_event, "russia-dprk-treaty-2"), actor="olga", new=True)
    assert not again.ok and "exists already" in again.message
    # A file with the same id does not override the dashboard's version.
    copy = workdir / "config" / "events" / "russia-dprk-treaty-2.yaml"
    copy.write_text(REFERENCE_EVENT_FILE.read_text().replace("id: russia-dprk-treaty", "id: russia-dprk-treaty-2")
                    .replace("Treaty\n", "Treaty, from the file\n"))
    report = import_events(runtime.config, runtime.store, IMPORTED)
    assert [event_id for event_id, _ in report.ignored] == ["russia-dprk-treaty-2"]
    assert runtime.store.event("russia-dprk-treaty-2") == made.event.event
    validate = CliRunner().invoke(app, ["--config", "config", "validate"],
                                  env={"COLUMNS": "300", "ANNOUNCE_BOT_DATABASE__URL": database_url})
    assert "ignored, the event 'russia-dprk-treaty-2' was taken over in the dashboard" in validate.output


async def test_a_files_event_is_read_only_until_taken_over(runtime: Runtime, reference_event: Event) -> None:
    import_events(runtime.config, runtime.store, IMPORTED)
    editing = runtime.operations.editing
    changed = reference_event.model_copy(update={"title": "Changed in the dashboard"})
    refused = await editing.save(changed, actor="olga")
    assert not refused.ok and "comes from its file" in refused.message
    taken = await editing.take_over(reference_event.id, actor="olga")
    assert taken.ok and taken.event is not None and taken.event.origin is EventOrigin.DASHBOARD
    saved = await editing.save(changed, actor="olga", expected=taken.event.version)
    assert saved.ok
    assert import_events(runtime.config, runtime.store, IMPORTED).ignored  # the file no longer counts
    stale = await editing.save(changed.model_copy(update={"title": "Overwriting"}), actor="ivan",
                               expected=taken.event.version)  # the version before olga's change
    assert not stale.ok and "changed meanwhile" in stale.message
    assert runtime.store.event(reference_event.id).title == "Changed in the dashboard"  # type: ignore[union-attr]


async def test_postpone_cancel_and_withdraw(runtime: Runtime, reference_event: Event) -> None:
    editing = runtime.operations.editing
    await editing.save(_new(reference_event), actor="olga", new=True)
    runtime.dispatcher.clock = lambda: ANNOUNCED  # type: ignore[method-assign]
    runtime.operations.clock = lambda: ANNOUNCED
    results = await runtime.operations.publish("spring-forum", PostKind.ANNOUNCEMENT, targets=["telegram"])
    assert [r.result.value for r in results] == ["sent"]
    later = reference_event.start + timedelta(days=2)
    moved = await editing.postpone("spring-forum", actor="olga", start=later)
    assert moved.ok and moved.event is not None and moved.event.event.start == later
    # The start it had is kept: pages and search engines say it moved (schema.org previousStartDate).
    assert moved.event.event.previous_start == reference_event.start and moved.event.event.moved
    notices = [p for p in runtime.store.posts("spring-forum") if p.kind is PostKind.CHANGED]
    assert [(p.target, p.state) for p in notices] == [("telegram", PostState.PLANNED)]  # where it was announced
    open_date = await editing.postpone("spring-forum", actor="olga")
    assert open_date.event is not None and open_date.event.event.status is EventStatus.POSTPONED
    cancelled = await editing.cancel("spring-forum", actor="olga")
    assert cancelled.ok and cancelled.event is not None and cancelled.event.event.status is EventStatus.CANCELLED
    gone = await editing.withdraw("spring-forum", actor="olga")
    assert gone.ok and runtime.store.event("spring-forum") is None
    assert not (await editing.withdraw("spring-forum", actor="olga")).ok  # once


async def test_a_draft_sends_nothing_and_is_not_shown_until_scheduled(runtime: Runtime,
                                                                      reference_event: Event) -> None:
    editing = runtime.operations.editing
    draft = _new(reference_event, status=EventStatus.DRAFT)
    assert (await editing.save(draft, actor="olga", new=True)).ok
    assert {p.state for p in runtime.store.posts("spring-forum")} == {PostState.WAITING}
    assert runtime.store.event("spring-forum") is None and runtime.store.public_events() == []
    assert runtime.dispatcher.claims.claim_due(reference_event.end, "w") == []
    stored = runtime.store.record("spring-forum")
    assert stored is not None
    scheduled = await editing.save(draft.model_copy(update={"status": EventStatus.SCHEDULED}), actor="olga",
                                   expected=stored.version)
    assert scheduled.ok and {p.state for p in runtime.store.posts("spring-forum")} == {PostState.PLANNED}
    assert not [p for p in runtime.store.posts("spring-forum") if p.kind is PostKind.CHANGED]  # no "new time"


def test_event_new_drafts_a_file_from_another_and_export_round_trips(workdir: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["--config", "config", "event", "new", "spring-forum", "--from", "russia-dprk-treaty",
                               "--start", "2027-03-10 11:00"])
    assert made.exit_code == 0, made.output
    path = workdir / "config" / "events" / "spring-forum.yaml"
    text = path.read_text()
    assert "title:  # CHECK: copied from russia-dprk-treaty" in text and "# CHECK: the new date" in text
    drafted = load_event(path)
    assert drafted.status is EventStatus.DRAFT and drafted.live == {} and drafted.report is None
    assert drafted.start == datetime(2027, 3, 10, 11, 0, tzinfo=drafted.zone)
    assert drafted.end - drafted.start == timedelta(hours=2)
    exported = runner.invoke(app, ["--config", "config", "event", "export", "russia-dprk-treaty"])
    assert exported.exit_code == 0
    assert Event.model_validate({**yaml.safe_load(exported.stdout)}) == load_event(REFERENCE_EVENT_FILE)
    assert runner.invoke(app, ["--config", "config", "event", "new", "spring-forum"]).exit_code == 1  # exists
    assert runner.invoke(app, ["--config", "config", "event", "new", "Bad Id"]).exit_code == 2

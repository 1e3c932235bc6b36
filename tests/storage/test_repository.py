"""The repository contract, run against every supported database: idempotent import, re-planning."""

from __future__ import annotations

from datetime import timedelta

from alembic.script import ScriptDirectory

from bot.config import load_config
from bot.domain import Event, EventStatus, PostKind
from bot.errors import TransientError
from bot.importing import targets
from bot.planning import plan
from bot.storage import Store
from bot.storage.database import alembic_config, create, migrate
from tests.conftest import CONFIG_DIR

CONFIG = load_config(CONFIG_DIR)


def sync(store: Store, event: Event):  # type: ignore[no-untyped-def]
    return store.sync_event(event, "events/x.yaml", plan(event, CONFIG.campaign, targets(CONFIG)))


def test_first_import_plans_everything(store: Store, reference_event: Event) -> None:
    result = sync(store, reference_event)
    assert result.outcome == "created"
    posts = store.posts(reference_event.id)
    assert result.planned == len(posts) == 22
    assert {p.state for p in posts} == {"planned"}
    assert store.event(reference_event.id) == reference_event


def test_reimporting_unchanged_event_changes_nothing(store: Store, reference_event: Event) -> None:
    sync(store, reference_event)
    before = [(p.id, p.due_at, p.state, p.updated_at) for p in store.posts()]
    result = sync(store, reference_event)
    assert (result.outcome, result.planned, result.replanned, result.cancelled) == ("unchanged", 0, 0, 0)
    assert [(p.id, p.due_at, p.state, p.updated_at) for p in store.posts()] == before


def test_changed_start_replans_unsent_posts_only(store: Store, reference_event: Event) -> None:
    sync(store, reference_event)
    posts = store.posts(reference_event.id)
    sent = next(p for p in posts if p.step_id == "announcement" and p.target == "telegram")
    with store.sessions.begin() as session:  # as the delivery code will: this one went out
        row = session.get_one(type(sent), sent.id)
        row.state = "sent"
    moved = reference_event.model_copy(update={"start": reference_event.start + timedelta(days=1),
                                               "end": reference_event.end + timedelta(days=1)})
    result = sync(store, moved)
    assert result.outcome == "updated"
    assert result.replanned == 21
    after = {(p.step_id, p.target): p for p in store.posts(reference_event.id)}
    assert after[("announcement", "telegram")].due_at == sent.due_at  # sent: left alone
    old = {(p.step_id, p.target): p.due_at for p in posts}
    assert after[("announcement", "vk")].due_at == old[("announcement", "vk")] + timedelta(days=1)


def test_cancelled_event_cancels_planned_posts_and_can_come_back(store: Store, reference_event: Event) -> None:
    sync(store, reference_event)
    sync(store, reference_event.model_copy(update={"status": EventStatus.CANCELLED}))
    assert {(p.state, p.reason) for p in store.posts()} == {("cancelled", "the event is cancelled")}
    sync(store, reference_event)
    assert {p.state for p in store.posts()} == {"planned"}


def test_report_added_later_turns_waiting_summary_into_planned(store: Store, reference_event: Event) -> None:
    sync(store, reference_event.model_copy(update={"report": None}))
    summary = [p for p in store.posts() if p.kind == PostKind.SUMMARY.value]
    assert {p.state for p in summary} == {"waiting"}
    sync(store, reference_event)
    summary = [p for p in store.posts() if p.kind == PostKind.SUMMARY.value]
    assert {p.state for p in summary} == {"planned"}


def test_step_removed_from_campaign_cancels_its_posts(store: Store, reference_event: Event) -> None:
    sync(store, reference_event)
    campaign = CONFIG.campaign.model_copy(update={"steps": CONFIG.campaign.steps[:-1]})
    result = store.sync_event(reference_event, "events/x.yaml", plan(reference_event, campaign, targets(CONFIG)))
    assert result.cancelled == 5
    assert {p.state for p in store.posts() if p.step_id == "summary"} == {"cancelled"}


def test_deliveries_are_recorded(store: Store, reference_event: Event) -> None:
    sync(store, reference_event)
    first = store.start_delivery(event_id=reference_event.id, kind="announcement", target="vk", platform="vk")
    assert store.deliveries()[0].state == "claimed"  # recorded before the network call
    store.finish_delivery(first, error=TransientError("VK answered 502"))
    row = store.deliveries()[0]
    assert (row.state, row.error, row.error_kind) == ("retrying", "VK answered 502", "TransientError")
    assert row.finished_at is not None and row.finished_at >= row.started_at


def test_migrations_are_idempotent(database_url: str) -> None:
    engine = create(database_url)
    migrate(engine)
    migrate(engine)
    with engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert version == head

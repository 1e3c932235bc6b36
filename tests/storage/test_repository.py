"""The repository contract, run against every supported database: idempotent import, re-planning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.script import ScriptDirectory

from bot.config import load_config
from bot.domain import (
    COMMANDS,
    TRANSITIONS,
    Command,
    Event,
    EventOrigin,
    EventStatus,
    Platform,
    PostKind,
    PostState,
    Receipt,
)
from bot.planning import plan
from bot.preparation import targets
from bot.storage import Claims, Store, SyncResult
from bot.storage.database import alembic_config, create, migrate
from bot.storage.hotpath import Settlement
from bot.storage.tables import EventRow, PlannedPostRow
from tests.conftest import CONFIG_DIR

CONFIG = load_config(CONFIG_DIR)
IMPORTED = datetime(2024, 11, 1, tzinfo=UTC)  # before the reference event's campaign begins
ANNOUNCED = datetime(2024, 11, 20, 8, 0, tzinfo=UTC)


def sync(store: Store, event: Event, now: datetime = IMPORTED, **options: object) -> SyncResult:
    return store.sync_event(event, "events/x.yaml", plan(event, CONFIG.campaign, targets(CONFIG)), now=now,
                            **options)  # type: ignore[arg-type]


def test_first_import_plans_everything(store: Store, reference_event: Event) -> None:
    result = sync(store, reference_event)
    assert result.outcome == "created"
    posts = store.posts(reference_event.id)
    assert result.planned == len(posts) == 21  # the reminder-1d goes to Dzen only if its step names it
    assert {p.state for p in posts} == {PostState.PLANNED}
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
        row = session.get_one(PlannedPostRow, sent.id)
        row.state = "sent"
    moved = reference_event.model_copy(update={"start": reference_event.start + timedelta(days=1),
                                               "end": reference_event.end + timedelta(days=1)})
    result = sync(store, moved)
    assert result.outcome == "updated"
    assert result.replanned == 20
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
    result = store.sync_event(reference_event, "events/x.yaml", plan(reference_event, campaign, targets(CONFIG)),
                              now=IMPORTED)
    assert result.cancelled == 5
    assert {p.state for p in store.posts() if p.step_id == "summary"} == {"cancelled"}


def test_an_attempt_is_recorded_before_the_call_and_settled_with_its_post_in_one_go(
    store: Store, reference_event: Event
) -> None:
    sync(store, reference_event)
    claims = Claims(store.sessions)
    post = next(p for p in claims.claim_due(ANNOUNCED, "w") if p.target == "vk")
    delivery = claims.start(post, "w", ANNOUNCED)
    assert delivery is not None and store.deliveries()[0].state is PostState.CLAIMED  # in flight
    retry = Settlement(state=PostState.RETRYING, next_attempt_at=ANNOUNCED + timedelta(seconds=10),
                       reason="TransientError: VK answered 502", error="VK answered 502", error_kind="TransientError")
    assert claims.settle(post, "w", delivery, retry, ANNOUNCED)
    row = store.deliveries()[0]
    assert (row.state, row.error, row.error_kind) == (PostState.RETRYING, "VK answered 502", "TransientError")
    assert row.finished_at == ANNOUNCED
    after = store.post(post.id)
    assert after is not None and (after.state, after.next_attempt_at) == (PostState.RETRYING, retry.next_attempt_at)
    # Another worker cannot start or settle a post it does not hold.
    assert claims.start(post, "intruder", ANNOUNCED) is None


def test_a_past_event_first_seen_plans_nothing_to_send(store: Store, reference_event: Event) -> None:
    result = sync(store, reference_event, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert result.past == 21
    states = {p.state for p in store.posts()}
    assert states == {PostState.SKIPPED, PostState.WAITING} or states == {PostState.SKIPPED}
    assert all("already past when first planned" in (p.reason or "") for p in store.posts())
    assert Claims(store.sessions).claim_due(datetime(2026, 12, 1, tzinfo=UTC), "w") == []
    # Backfilling on purpose keeps them planned.
    other = reference_event.model_copy(update={"id": "backfilled"})
    sync(store, other, now=datetime(2026, 12, 1, tzinfo=UTC), skip_past=False)
    assert {p.state for p in store.posts("backfilled")} == {PostState.PLANNED}


def test_a_withdrawn_event_cancels_its_unsent_posts_once_and_comes_back(store: Store, reference_event: Event) -> None:
    sync(store, reference_event)
    claims = Claims(store.sessions)
    (sent,) = claims.claim_due(ANNOUNCED, "w", limit=1)
    claims.settle(sent, "w", claims.start(sent, "w", ANNOUNCED), Settlement(
        state=PostState.SENT, receipt=Receipt(platform=sent.platform, target=sent.target, post_id="1")), ANNOUNCED)
    cancelled = store.withdraw(reference_event.id, "its file was removed", ANNOUNCED)
    assert cancelled is not None and cancelled > 0
    assert store.withdraw(reference_event.id, "again", ANNOUNCED) is None  # told once
    assert store.event(reference_event.id) is None and store.public_events() == []  # not shown to the public
    record = store.record(reference_event.id)
    assert record is not None and record.withdrawn == "its file was removed" and not record.active
    assert store.post(sent.id).state is PostState.SENT  # type: ignore[union-attr]
    unsent = [p for p in store.posts() if p.id != sent.id]
    assert {p.state for p in unsent} <= {PostState.CANCELLED, PostState.SKIPPED}
    assert any(p.reason == "withdrawn: its file was removed" for p in unsent)
    result = sync(store, reference_event, now=ANNOUNCED)
    assert result.outcome == "restored" and store.event(reference_event.id) == reference_event
    assert PostState.CANCELLED not in {p.state for p in store.posts()}


def test_an_event_taken_over_in_the_dashboard_ignores_its_file(store: Store, reference_event: Event) -> None:
    store.sync_event(reference_event, "dashboard", plan(reference_event, CONFIG.campaign, targets(CONFIG)),
                     origin=EventOrigin.DASHBOARD, now=IMPORTED)
    changed = reference_event.model_copy(update={"title": "From the file"})
    assert sync(store, changed).outcome == "ignored"
    assert store.event(reference_event.id) == reference_event


def test_commands_follow_the_transition_table(store: Store, reference_event: Event) -> None:
    for command, states in COMMANDS.items():
        if command is Command.PUBLISH:
            continue  # a publish claims the post (or adds a manual copy), checked below by the scheduler's tests
        target = PostState.SKIPPED if command is Command.SKIP else PostState.PLANNED
        # An approval changes the state only of a post already waiting for it; the others keep theirs.
        moving = {PostState.AWAITING_APPROVAL} if command is Command.APPROVE else states
        assert all(target in TRANSITIONS[state] for state in moving), command
    sync(store, reference_event)
    claims = Claims(store.sessions)
    post = store.posts()[0]
    before, after = claims.command(post.id, Command.RETRY, ANNOUNCED, "olga")
    assert before == after and after is not None and after.state is PostState.PLANNED  # a planned post: refused
    before, after = claims.command(post.id, Command.SKIP, ANNOUNCED, "olga", "not this time")
    assert after is not None and (after.state, after.reason, after.actor) == (PostState.SKIPPED, "not this time",
                                                                             "olga")
    before, after = claims.command(post.id, Command.RETRY, ANNOUNCED, "ivan")
    assert after is not None and after.state is PostState.PLANNED and after.attempts == 0
    assert claims.command(99999, Command.SKIP, ANNOUNCED) == (None, None)


def test_a_receipt_wins_over_a_recovery_that_marked_the_post_unknown(store: Store, reference_event: Event) -> None:
    sync(store, reference_event)
    claims = Claims(store.sessions)
    post = next(p for p in claims.claim_due(ANNOUNCED, "slow") if p.target == "x")
    delivery = claims.start(post, "slow", ANNOUNCED)
    # A replica judged the claim stale and marked it unknown while "slow" was still publishing.
    assert claims.resolve_stale(post, resend=False, now=ANNOUNCED) is PostState.UNKNOWN
    receipt = Receipt(platform=Platform.X, target="x", post_id="7", extra_ids=("8",), link="https://x.com/i/7")
    assert claims.settle(post, "slow", delivery, Settlement(state=PostState.SENT, receipt=receipt), ANNOUNCED)
    after = store.post(post.id)
    assert after is not None and (after.state, after.parts, after.link) == (PostState.SENT, ("7", "8"), receipt.link)


def test_a_claim_renewed_after_it_was_judged_stale_is_left_alone(store: Store, reference_event: Event) -> None:
    sync(store, reference_event)
    claims = Claims(store.sessions)
    (post,) = claims.claim_due(ANNOUNCED, "slow", limit=1)
    (seen,) = claims.stale_claims(ANNOUNCED + timedelta(minutes=10))  # a replica reads it as stale...
    assert claims.start(post, "slow", ANNOUNCED + timedelta(minutes=9)) is not None  # ...as its owner starts
    assert claims.resolve_stale(seen, resend=False, now=ANNOUNCED + timedelta(minutes=10)) is None
    after = store.post(post.id)
    assert after is not None and (after.state, after.claimed_by) == (PostState.CLAIMED, "slow")


def test_parts_are_recorded_as_they_go_and_a_lost_claim_records_none(store: Store, reference_event: Event) -> None:
    sync(store, reference_event)
    claims = Claims(store.sessions)
    post = next(p for p in claims.claim_due(ANNOUNCED, "w") if p.target == "x")
    assert claims.record_parts(post.id, "w", ["101"])
    assert not claims.record_parts(post.id, "someone-else", ["999"])
    assert store.post(post.id).parts == ("101",)  # type: ignore[union-attr]


def test_unknown_posts_whose_receipt_is_on_record_are_marked_sent(store: Store, reference_event: Event) -> None:
    sync(store, reference_event)
    claims = Claims(store.sessions)
    post = next(p for p in claims.claim_due(ANNOUNCED, "w") if p.target == "vk")
    delivery = claims.start(post, "w", ANNOUNCED)
    receipt = Receipt(platform=Platform.VK, target="vk", post_id="-1_5", link="https://vk.com/wall-1_5")
    claims.settle(post, "other", delivery, Settlement(state=PostState.SENT, receipt=receipt), ANNOUNCED)  # row only
    with store.sessions.begin() as session:  # and the post itself was marked unknown meanwhile
        session.get_one(PlannedPostRow, post.id).state = PostState.UNKNOWN.value
    (found,) = claims.receipts_found(ANNOUNCED)
    assert (found.id, found.state, found.link) == (post.id, PostState.SENT, receipt.link)
    assert claims.receipts_found(ANNOUNCED) == []


def test_migrations_are_idempotent(database_url: str) -> None:
    engine = create(database_url)
    migrate(engine)
    migrate(engine)
    with engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert version == head


def test_an_event_stored_before_a_text_bound_existed_is_read_back_as_it_was(store: Store, reference_event: Event
                                                                             ) -> None:
    sync(store, reference_event)
    long_title = {"en": "Very " * 100 + "long", "ru": "Очень длинное"}  # 504 characters: over today's 300
    with store.sessions.begin() as session:
        row = session.get(EventRow, reference_event.id)
        assert row is not None
        row.data = {**row.data, "title": long_title}
        row.content_hash = "older"
    stored = store.record(reference_event.id)
    assert stored is not None and stored.event.title == long_title
    assert [e.id for e in store.public_events()] == [reference_event.id]

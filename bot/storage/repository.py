"""Reads and writes events, planned posts and deliveries; imports events idempotently."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain import CatchUp, Event, PostKind, PostState, Receipt
from bot.errors import PublishError
from bot.planning import PlanItem
from bot.storage.tables import DeliveryRow, EventRow, PlannedPostRow, utcnow

# States a re-import may still change: nothing has been sent for them.
_MUTABLE = frozenset({PostState.PLANNED, PostState.WAITING, PostState.CANCELLED})


@dataclass(frozen=True, kw_only=True)
class SyncResult:
    event_id: str
    outcome: str  # "created", "updated" or "unchanged"
    planned: int = 0  # posts added
    replanned: int = 0  # posts whose time, language or state changed
    cancelled: int = 0  # posts no longer wanted


def content_hash(event: Event) -> str:
    data = json.dumps(event.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


class Store:
    """The database as the rest of the bot sees it. Each method is one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def sync_event(
        self, event: Event, source: str, items: Sequence[PlanItem], *, notify_changes: bool = False,
        now: datetime | None = None,
    ) -> SyncResult:
        """Store `event` and bring its planned posts in line with `items` (see `_sync_event`).

        Replicas import the same files at the same time; if another one inserted the event or a post
        first, this transaction fails on the unique key and is simply run again against what it wrote.
        """
        for attempt in range(3):
            try:
                return self._sync_event(event, source, items, notify_changes=notify_changes, now=now)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _sync_event(
        self, event: Event, source: str, items: Sequence[PlanItem], *, notify_changes: bool = False,
        now: datetime | None = None,
    ) -> SyncResult:
        """Store `event` and bring its planned posts in line with `items`; unchanged input writes nothing.

        With `notify_changes`, a new time, a postponement or a cancellation plans a `changed` notice, due
        now, on every target that already carried the announcement.
        """
        digest = content_hash(event)
        active = event.status.value == "scheduled"
        planned = replanned = cancelled = 0
        with self.sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                # One replica at a time per event; the others then see its rows and find nothing to do.
                session.execute(select(func.pg_advisory_xact_lock(func.hashtext(event.id))))
            row = session.get(EventRow, event.id)
            notice = False
            if row is None:
                outcome = "created"
                row = EventRow(id=event.id)
                session.add(row)
            else:
                outcome = "updated" if row.content_hash != digest or row.source != source else "unchanged"
                was_active = row.status == "scheduled"
                notice = notify_changes and was_active and (not active or row.start_at != event.start)
            if outcome != "unchanged":
                row.content_hash = digest
                row.data = event.model_dump(mode="json")
                row.source = source
                row.status = event.status.value
                row.start_at = event.start
                row.end_at = event.end
                row.updated_at = utcnow()
            existing = {
                (post.step_id, post.target): post
                for post in session.scalars(select(PlannedPostRow).where(PlannedPostRow.event_id == event.id))
            }
            for item in items:
                state, reason = _desired(item, active, event)
                post = existing.pop(item.key, None)
                if post is None:
                    session.add(_new_post(item, state, reason))
                    planned += 1
                elif post.state in _MUTABLE and _update(post, item, state, reason):
                    replanned += 1
            for post in existing.values():
                if post.kind != PostKind.CHANGED and post.state in (PostState.PLANNED, PostState.WAITING):
                    post.state, post.reason = PostState.CANCELLED.value, "no longer in the campaign"
                    cancelled += 1
            if notice:
                planned += _plan_notices(session, event, now or utcnow())
        if outcome == "unchanged" and (planned or replanned or cancelled):
            outcome = "updated"
        return SyncResult(
            event_id=event.id, outcome=outcome, planned=planned, replanned=replanned, cancelled=cancelled
        )

    def events(self) -> list[Event]:
        with self.sessions() as session:
            rows = session.scalars(select(EventRow).order_by(EventRow.start_at)).all()
            return [Event.model_validate(row.data) for row in rows]

    def event(self, event_id: str) -> Event | None:
        with self.sessions() as session:
            row = session.get(EventRow, event_id)
            return Event.model_validate(row.data) if row else None

    def posts(self, event_id: str | None = None) -> list[PlannedPostRow]:
        with self.sessions() as session:
            query = select(PlannedPostRow).order_by(PlannedPostRow.due_at, PlannedPostRow.step_id,
                                                    PlannedPostRow.target)
            if event_id is not None:
                query = query.where(PlannedPostRow.event_id == event_id)
            return list(session.scalars(query).all())

    def deliveries(self, event_id: str | None = None, limit: int = 100) -> list[DeliveryRow]:
        with self.sessions() as session:
            query = select(DeliveryRow).order_by(DeliveryRow.id.desc()).limit(limit)
            if event_id is not None:
                query = query.where(DeliveryRow.event_id == event_id)
            return list(session.scalars(query).all())

    def start_delivery(
        self, *, event_id: str, kind: str, target: str, platform: str, planned_post_id: int | None = None,
        claimed_by: str | None = None,
    ) -> int | None:
        """Record an attempt before the network call, so a crash in between leaves a trace.

        With `claimed_by`, the attempt is recorded only while that worker still holds the post's claim
        (and its lease is renewed); None means the claim was lost, so the caller must not send.
        """
        with self.sessions.begin() as session:
            if planned_post_id is not None and claimed_by is not None:
                held = session.execute(
                    update(PlannedPostRow)
                    .where(PlannedPostRow.id == planned_post_id, PlannedPostRow.claimed_by == claimed_by,
                           PlannedPostRow.state == PostState.CLAIMED.value)
                    .values(claimed_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
                if not getattr(held, "rowcount", 0):
                    return None
            row = DeliveryRow(
                planned_post_id=planned_post_id,
                event_id=event_id,
                kind=kind,
                target=target,
                platform=platform,
                state=PostState.CLAIMED.value,
            )
            session.add(row)
            session.flush()
            return row.id

    def finish_delivery(
        self, delivery_id: int, *, receipt: Receipt | None = None, error: PublishError | None = None
    ) -> None:
        with self.sessions.begin() as session:
            row = session.get_one(DeliveryRow, delivery_id)
            row.finished_at = utcnow()
            if receipt is not None:
                row.state, row.post_id, row.link = PostState.SENT.value, receipt.post_id, receipt.link
            elif error is not None:
                row.state = PostState.RETRYING.value if error.retryable else PostState.FAILED.value
                row.error, row.error_kind = str(error), type(error).__name__


def _plan_notices(session: Session, event: Event, now: datetime) -> int:
    announced = session.scalars(
        select(PlannedPostRow).where(
            PlannedPostRow.event_id == event.id,
            PlannedPostRow.kind == PostKind.ANNOUNCEMENT.value,
            PlannedPostRow.state == PostState.SENT.value,
        )
    ).all()
    step_id = f"changed-{now:%Y%m%dt%H%M%S}"
    for post in announced:
        session.add(PlannedPostRow(
            event_id=event.id, step_id=step_id, kind=PostKind.CHANGED.value, target=post.target,
            platform=post.platform, lang=post.lang, catch_up=CatchUp.BEFORE_END.value, due_at=now,
            state=PostState.PLANNED.value, reason=f"the event is {event.status.value}"
            if event.status.value != "scheduled" else "the start time changed", attempts=0,
        ))
    return len(announced)


def _desired(item: PlanItem, active: bool, event: Event) -> tuple[str, str | None]:
    if not active:
        return PostState.CANCELLED.value, f"the event is {event.status.value}"
    if item.waiting:
        return PostState.WAITING.value, item.waiting
    return PostState.PLANNED.value, None


def _new_post(item: PlanItem, state: str, reason: str | None) -> PlannedPostRow:
    return PlannedPostRow(
        event_id=item.event_id,
        step_id=item.step_id,
        kind=item.kind.value,
        target=item.target,
        platform=item.platform.value,
        lang=item.lang,
        catch_up=item.catch_up.value,
        due_at=item.due_at,
        state=state,
        reason=reason,
        attempts=0,
    )


def _update(post: PlannedPostRow, item: PlanItem, state: str, reason: str | None) -> bool:
    wanted: dict[str, object] = {
        "kind": item.kind.value,
        "platform": item.platform.value,
        "lang": item.lang,
        "catch_up": item.catch_up.value,
        "due_at": item.due_at,
        "state": state,
        "reason": reason,
    }
    changed = {key: value for key, value in wanted.items() if getattr(post, key) != value}
    for key, value in changed.items():
        setattr(post, key, value)
    return bool(changed)


_CLAIMABLE = (PostState.PLANNED.value, PostState.RETRYING.value)
# What the organiser may skip: anything not sent, not in flight and not already settled as not wanted.
_SKIPPABLE = (PostState.PLANNED.value, PostState.WAITING.value, PostState.RETRYING.value, PostState.FAILED.value,
              PostState.UNKNOWN.value)


class Claims:
    """The delivery state machine in the database: claim, then sent / retrying / failed / skipped / unknown.

    A post is claimed with one atomic UPDATE before its network call, so that no two senders (tasks,
    processes or replicas) ever send it twice; PostgreSQL skips rows another replica has locked.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def claim_due(self, now: datetime, worker: str, limit: int = 500) -> list[PlannedPostRow]:
        with self.sessions.begin() as session:
            due = (
                select(PlannedPostRow.id)
                .where(
                    PlannedPostRow.state.in_(_CLAIMABLE),
                    PlannedPostRow.due_at <= now,
                    or_(PlannedPostRow.next_attempt_at.is_(None), PlannedPostRow.next_attempt_at <= now),
                )
                .order_by(PlannedPostRow.due_at, PlannedPostRow.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            claimed = session.scalars(
                update(PlannedPostRow)
                .where(PlannedPostRow.id.in_(due.scalar_subquery()), PlannedPostRow.state.in_(_CLAIMABLE))
                .values(
                    state=PostState.CLAIMED.value,
                    claimed_by=worker,
                    claimed_at=now,
                    attempts=PlannedPostRow.attempts + 1,
                    updated_at=now,
                )
                .returning(PlannedPostRow)
                .execution_options(synchronize_session=False)
            ).all()
            return sorted(claimed, key=lambda post: (post.due_at, post.id))

    def _finish(self, row_id: int, worker: str, **values: object) -> bool:
        """Move a post this worker claimed to its outcome; False if the claim was lost meanwhile."""
        with self.sessions.begin() as session:
            result = session.execute(
                update(PlannedPostRow)
                .where(
                    PlannedPostRow.id == row_id,
                    PlannedPostRow.state == PostState.CLAIMED.value,
                    PlannedPostRow.claimed_by == worker,
                )
                .values(updated_at=utcnow(), **values)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0))

    def sent(self, row_id: int, worker: str, receipt: Receipt) -> bool:
        return self._finish(row_id, worker, state=PostState.SENT.value, post_id=receipt.post_id,
                            link=receipt.link, reason=None, next_attempt_at=None)

    def retry_at(self, row_id: int, worker: str, when: datetime, reason: str) -> bool:
        return self._finish(row_id, worker, state=PostState.RETRYING.value, next_attempt_at=when, reason=reason)

    def failed(self, row_id: int, worker: str, reason: str) -> bool:
        return self._finish(row_id, worker, state=PostState.FAILED.value, reason=reason, next_attempt_at=None)

    def unknown(self, row_id: int, worker: str, reason: str) -> bool:
        return self._finish(row_id, worker, state=PostState.UNKNOWN.value, reason=reason, next_attempt_at=None)

    def skipped(self, row_id: int, worker: str, reason: str) -> bool:
        return self._finish(row_id, worker, state=PostState.SKIPPED.value, reason=reason, next_attempt_at=None)

    def stale_claims(self, older_than: datetime | None = None) -> list[PlannedPostRow]:
        """Claims whose sender is gone: all of them at start-up of a single process, else older than a lease."""
        with self.sessions() as session:
            query = select(PlannedPostRow).where(PlannedPostRow.state == PostState.CLAIMED.value)
            if older_than is not None:
                query = query.where(PlannedPostRow.claimed_at < older_than)
            return list(session.scalars(query).all())

    def resolve_stale(self, post: PlannedPostRow, *, resend: bool) -> str | None:
        """Settle a claim whose sender is gone; returns the new state, or None if someone else did.

        If the sender never started the network call (no unfinished delivery), the post simply goes back
        to planned. If it did, nobody knows whether the platform published it: the post is marked
        unknown for a person to check, or planned again when the campaign step says to re-send.
        """
        with self.sessions.begin() as session:
            attempts = session.scalars(
                select(DeliveryRow).where(
                    DeliveryRow.planned_post_id == post.id,
                    DeliveryRow.started_at >= (post.claimed_at or post.due_at),
                )
            ).all()
            in_flight = [d for d in attempts if d.state == PostState.CLAIMED.value]
            receipt = next((d for d in attempts if d.state == PostState.SENT.value), None)
            if receipt is not None:
                # It was published and its receipt recorded; only the post's own row missed it (a crash
                # between the two writes). It must not go out again.
                done = session.execute(
                    update(PlannedPostRow)
                    .where(PlannedPostRow.id == post.id, PlannedPostRow.state == PostState.CLAIMED.value,
                           PlannedPostRow.claimed_by == post.claimed_by)
                    .values(updated_at=utcnow(), state=PostState.SENT.value, post_id=receipt.post_id,
                            link=receipt.link, reason=None, next_attempt_at=None)
                    .execution_options(synchronize_session=False)
                )
                return PostState.SENT.value if getattr(done, "rowcount", 0) else None
            if not in_flight:
                state, reason = PostState.PLANNED.value, None
            elif resend:
                state, reason = PostState.PLANNED.value, "re-sent after a crash (outcome was unknown)"
            else:
                state = PostState.UNKNOWN.value
                reason = "the bot stopped while sending: it may or may not have been published"
            result = session.execute(
                update(PlannedPostRow)
                .where(PlannedPostRow.id == post.id, PlannedPostRow.state == PostState.CLAIMED.value,
                       PlannedPostRow.claimed_by == post.claimed_by)
                .values(updated_at=utcnow(), state=state, reason=reason,
                        attempts=PlannedPostRow.attempts - (0 if in_flight else 1))
                .execution_options(synchronize_session=False)
            )
            if not getattr(result, "rowcount", 0):
                return None
            for delivery in in_flight:
                delivery.state, delivery.finished_at = PostState.UNKNOWN.value, utcnow()
                delivery.error = "the bot stopped before the platform's answer was recorded"
            return state if in_flight else "released"

    def retry(self, row_id: int, now: datetime) -> PlannedPostRow | None:
        """The organiser asks to send a failed, unknown or skipped post again, now."""
        with self.sessions.begin() as session:
            post = session.get(PlannedPostRow, row_id)
            if post is None or post.state not in (PostState.FAILED, PostState.UNKNOWN, PostState.SKIPPED,
                                                  PostState.RETRYING):
                return post
            post.state, post.next_attempt_at, post.attempts = PostState.PLANNED.value, None, 0
            post.reason = "retry asked by the organiser"
            if post.due_at > now:
                post.due_at = now
            return post

    def claim(self, row_id: int, now: datetime, worker: str) -> PlannedPostRow | None:
        """Claim one planned or retrying post whatever its due time (the organiser's "publish now"); None if not."""
        with self.sessions.begin() as session:
            return session.scalars(
                update(PlannedPostRow)
                .where(PlannedPostRow.id == row_id, PlannedPostRow.state.in_(_CLAIMABLE))
                .values(state=PostState.CLAIMED.value, claimed_by=worker, claimed_at=now,
                        attempts=PlannedPostRow.attempts + 1, updated_at=now)
                .returning(PlannedPostRow)
                .execution_options(synchronize_session=False)
            ).first()

    def skip(self, row_id: int, reason: str) -> PlannedPostRow | None:
        """The organiser decides that a post which has not gone out will not go out; returns the post as it is now."""
        with self.sessions.begin() as session:
            session.execute(
                update(PlannedPostRow)
                .where(PlannedPostRow.id == row_id, PlannedPostRow.state.in_(_SKIPPABLE))
                .values(state=PostState.SKIPPED.value, reason=reason, next_attempt_at=None, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            return session.get(PlannedPostRow, row_id)

    def sent_post(self, event_id: str, target: str, kind: str) -> PlannedPostRow | None:
        """The first post of `kind` that went out for this event on this target."""
        with self.sessions() as session:
            return session.scalars(
                select(PlannedPostRow)
                .where(PlannedPostRow.event_id == event_id, PlannedPostRow.target == target,
                       PlannedPostRow.kind == kind, PlannedPostRow.state == PostState.SENT.value)
                .order_by(PlannedPostRow.due_at)
                .limit(1)
            ).first()

    def set_pinned(self, row_id: int, message_id: str | None) -> None:
        with self.sessions.begin() as session:
            session.execute(update(PlannedPostRow).where(PlannedPostRow.id == row_id)
                            .values(pinned_message_id=message_id))

    def pinned_after_the_event(self, now: datetime) -> list[PlannedPostRow]:
        """Live posts whose pinned announcement should now be unpinned: their event is over."""
        with self.sessions() as session:
            return list(session.scalars(
                select(PlannedPostRow)
                .join(EventRow, EventRow.id == PlannedPostRow.event_id)
                .where(PlannedPostRow.pinned_message_id.is_not(None), EventRow.end_at <= now)
            ).all())

    def next_wake(self) -> datetime | None:
        """When the next planned or retrying post comes due."""
        with self.sessions() as session:
            due = session.scalar(
                select(func.min(func.coalesce(PlannedPostRow.next_attempt_at, PlannedPostRow.due_at)))
                .where(PlannedPostRow.state.in_(_CLAIMABLE))
            )
            if due is None:
                return None
            return due if isinstance(due, datetime) and due.tzinfo else _parse_utc(due)


def _parse_utc(value: object) -> datetime:
    # SQLite returns an aggregate over a custom type as its raw stored text.
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

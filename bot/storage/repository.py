"""Reads and writes events, planned posts and deliveries; imports events idempotently."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain import Event, PostState, Receipt
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

    def sync_event(self, event: Event, source: str, items: Sequence[PlanItem]) -> SyncResult:
        """Store `event` and bring its planned posts in line with `items`; unchanged input writes nothing."""
        digest = content_hash(event)
        active = event.status.value == "scheduled"
        planned = replanned = cancelled = 0
        with self.sessions.begin() as session:
            row = session.get(EventRow, event.id)
            if row is None:
                outcome = "created"
                row = EventRow(id=event.id)
                session.add(row)
            else:
                outcome = "updated" if row.content_hash != digest or row.source != source else "unchanged"
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
                if post.state in (PostState.PLANNED, PostState.WAITING):
                    post.state, post.reason = PostState.CANCELLED.value, "no longer in the campaign"
                    cancelled += 1
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
        self, *, event_id: str, kind: str, target: str, platform: str, planned_post_id: int | None = None
    ) -> int:
        """Record an attempt before the network call, so a crash in between leaves a trace."""
        with self.sessions.begin() as session:
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

"""Frozen values from the rows of events, planned posts and deliveries (the only way they leave storage), and
what the repositories share: the post states they group, the deferred text of a post."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.orm import undefer

from bot.domain import (
    STORED,
    Approval,
    CatchUp,
    Delivery,
    Event,
    EventOrigin,
    PlannedPost,
    Platform,
    PostKind,
    PostState,
    Rendering,
    StoredEvent,
)
from bot.storage.tables import DeliveryRow, EventRow, PlannedPostRow

_S = PostState
# States an import may still change: nothing of them has been sent, nobody decided about them by hand.
REPLANNABLE = frozenset({_S.PLANNED, _S.WAITING, _S.CANCELLED, _S.AWAITING_APPROVAL})
# What withdrawing an event (or removing a step from the campaign) cancels: whatever has not gone out yet.
UNSENT = frozenset({_S.PLANNED, _S.WAITING, _S.RETRYING, _S.AWAITING_APPROVAL})
WITHDRAWN_PREFIX = "withdrawn: "
WITH_TEXT = undefer(PlannedPostRow.rendered)  # the deferred text of a post, where it is needed


def values_of(states: Iterable[PostState]) -> list[str]:
    return [state.value for state in states]


def planned_post(row: PlannedPostRow) -> PlannedPost:
    """The frozen value of a row (the only way a planned post leaves storage); its text only where it was read."""
    text = row.__dict__.get("rendered")  # a deferred column: absent unless the query read it
    return PlannedPost(
        id=row.id, event_id=row.event_id, step_id=row.step_id, kind=PostKind(row.kind), target=row.target,
        platform=Platform(row.platform), lang=row.lang, catch_up=CatchUp(row.catch_up), due_at=row.due_at,
        state=PostState(row.state), reason=row.reason, attempts=row.attempts, next_attempt_at=row.next_attempt_at,
        claimed_by=row.claimed_by, claimed_at=row.claimed_at, post_id=row.post_id, link=row.link,
        parts=tuple(row.parts or ()), pinned_message_id=row.pinned_message_id, manual=bool(row.manual),
        actor=row.actor, updated_at=row.updated_at, approval=Approval(row.approval or Approval.NONE),
        approved_by=row.approved_by, approved_at=row.approved_at, approval_asked_at=row.approval_asked_at,
        edits=row.edits, rendering=Rendering(text) if text else None, render_error=row.render_error,
        rendered_for=row.rendered_for,
    )


def delivery(row: DeliveryRow) -> Delivery:
    return Delivery(
        id=row.id, planned_post_id=row.planned_post_id, event_id=row.event_id, kind=row.kind, target=row.target,
        platform=row.platform, state=PostState(row.state), post_id=row.post_id, link=row.link, error=row.error,
        error_kind=row.error_kind, started_at=row.started_at, finished_at=row.finished_at, actor=row.actor,
    )


def stored_event(row: EventRow, event: Event | None = None) -> StoredEvent:
    return StoredEvent(
        event=event or Event.model_validate(row.data, context=STORED),
        origin=EventOrigin(row.origin or EventOrigin.FILE), source=row.source or "", version=row.content_hash,
        withdrawn=row.withdrawn, created_at=row.created_at, updated_at=row.updated_at,
    )


def parse_utc(value: object) -> datetime:
    # SQLite returns an aggregate over a custom type as its raw stored text.
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

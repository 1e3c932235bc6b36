"""The planned posts and the delivery log as the front ends and the scheduler read them, and the posts an organiser
asks for outside the campaign."""


from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain import (
    CatchUp,
    Delivery,
    PlannedPost,
    Platform,
    PostKind,
    PostState,
)
from bot.storage.tables import DeliveryRow, PlannedPostRow
from bot.storage.values import (
    WITH_TEXT,
    delivery,
    planned_post,
)

_S = PostState


class PostReads:
    """The posts of `Store` (bot/storage/events.py), read and added (`sessions` is the store's)."""

    sessions: sessionmaker[Session]

    def posts(self, event_id: str | None = None, *, text: bool = False) -> list[PlannedPost]:
        """The planned posts (of one event), by due time; with `text`, each with its rendering."""
        with self.sessions() as session:
            query = select(PlannedPostRow).order_by(PlannedPostRow.due_at, PlannedPostRow.step_id,
                                                    PlannedPostRow.target)
            if text:
                query = query.options(WITH_TEXT)
            if event_id is not None:
                query = query.where(PlannedPostRow.event_id == event_id)
            return [planned_post(row) for row in session.scalars(query)]

    def post_counts(self) -> dict[str, tuple[int, int]]:
        """Per event, (posts sent, posts planned in all): what `events` and the dashboard show as "sent/planned"."""
        with self.sessions() as session:
            rows = session.execute(
                select(PlannedPostRow.event_id, func.count(),
                       func.sum(case((PlannedPostRow.state == _S.SENT.value, 1), else_=0)))
                .group_by(PlannedPostRow.event_id))
            return {event_id: (int(sent or 0), int(total)) for event_id, total, sent in rows}

    def post(self, post_id: int) -> PlannedPost | None:
        with self.sessions() as session:
            row = session.get(PlannedPostRow, post_id)
            return planned_post(row) if row else None

    def deliveries(self, event_id: str | None = None, limit: int = 100, post_id: int | None = None) -> list[Delivery]:
        with self.sessions() as session:
            query = select(DeliveryRow).order_by(DeliveryRow.id.desc()).limit(limit)
            if event_id is not None:
                query = query.where(DeliveryRow.event_id == event_id)
            if post_id is not None:
                query = query.where(DeliveryRow.planned_post_id == post_id)
            return [delivery(row) for row in session.scalars(query)]

    def add_manual_post(
        self, event_id: str, kind: PostKind, target: str, platform: Platform, lang: str, now: datetime,
        actor: str | None, catch_up: CatchUp = CatchUp.ALWAYS,
    ) -> PlannedPost:
        """A post the organiser asks for outside the campaign (another copy, or a kind it does not plan): a
        planned post of its own, due now, so that it goes through the same claim, log and retries."""
        with self.sessions.begin() as session:
            count = session.scalar(select(func.count()).select_from(PlannedPostRow).where(
                PlannedPostRow.event_id == event_id, PlannedPostRow.target == target,
                PlannedPostRow.manual.is_(True))) or 0
            row = PlannedPostRow(
                event_id=event_id, step_id=f"manual-{kind.value}-{count + 1}", kind=kind.value, target=target,
                platform=platform.value, lang=lang, catch_up=catch_up.value, due_at=now, state=_S.PLANNED.value,
                reason="asked for by an organiser", attempts=0, manual=True, actor=actor, parts=[], updated_at=now,
            )
            session.add(row)
            session.flush()
            return planned_post(row)

"""Read-only reporting queries (the dashboard, /healthz, /metrics): counts, last outcomes, queue depth, latencies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.domain import PostState
from bot.storage.tables import DeliveryRow, PlannedPostRow, SubscriberRow

Sessions = sessionmaker[Session]


@dataclass(frozen=True, kw_only=True)
class TargetHealth:
    """When a target last published, and last failed."""

    target: str
    platform: str
    last_success: datetime | None
    last_failure: datetime | None
    last_error: str | None


def ping(sessions: Sessions) -> None:
    """Raise if the database cannot answer."""
    with sessions() as session:
        session.execute(text("SELECT 1"))


def subscriber_counts(sessions: Sessions) -> dict[str, int]:
    """Active subscribers per language."""
    with sessions() as session:
        rows = session.execute(
            select(SubscriberRow.lang, func.count())
            .where(SubscriberRow.active.is_(True))
            .group_by(SubscriberRow.lang)
            .order_by(SubscriberRow.lang)
        ).all()
        return {lang: int(count) for lang, count in rows}


def delivery_counts(sessions: Sessions) -> dict[tuple[str, str], int]:
    """Finished delivery attempts per (platform, state): sent, failed, retrying (failed, to be retried), unknown."""
    with sessions() as session:
        rows = session.execute(
            select(DeliveryRow.platform, DeliveryRow.state, func.count()).group_by(
                DeliveryRow.platform, DeliveryRow.state
            )
        ).all()
        return {(platform, state): int(count) for platform, state, count in rows}


def target_health(sessions: Sessions) -> list[TargetHealth]:
    """Each target that ever had a delivery: its last success and last failure."""
    failed = (PostState.FAILED.value, PostState.RETRYING.value, PostState.UNKNOWN.value)
    with sessions() as session:
        successes: dict[str, int] = {
            target: last for target, last in session.execute(
                select(DeliveryRow.target, func.max(DeliveryRow.id))
                .where(DeliveryRow.state == PostState.SENT.value)
                .group_by(DeliveryRow.target)
            )
        }
        failures: dict[str, int] = {
            target: last for target, last in session.execute(
                select(DeliveryRow.target, func.max(DeliveryRow.id))
                .where(DeliveryRow.state.in_(failed))
                .group_by(DeliveryRow.target)
            )
        }
        ids = [*successes.values(), *failures.values()]
        rows = {row.id: row for row in session.scalars(select(DeliveryRow).where(DeliveryRow.id.in_(ids)))}
    found = []
    for target in sorted({*successes, *failures}):
        ok = rows.get(successes.get(target, -1))
        bad = rows.get(failures.get(target, -1))
        either = ok or bad
        found.append(TargetHealth(
            target=target,
            platform=either.platform if either else "",
            last_success=ok.finished_at if ok else None,
            last_failure=bad.finished_at if bad else None,
            last_error=bad.error if bad else None,
        ))
    return found


def queue_depth(sessions: Sessions, now: datetime) -> int:
    """Planned and retrying posts that are due now."""
    with sessions() as session:
        count = session.scalar(
            select(func.count())
            .select_from(PlannedPostRow)
            .where(
                PlannedPostRow.state.in_((PostState.PLANNED.value, PostState.RETRYING.value)),
                PlannedPostRow.due_at <= now,
                or_(PlannedPostRow.next_attempt_at.is_(None), PlannedPostRow.next_attempt_at <= now),
            )
        )
        return int(count or 0)


def reply_latencies(sessions: Sessions) -> list[tuple[str, float]]:
    """(platform, seconds) for every finished delivery: how long the platform took to answer a publish."""
    with sessions() as session:
        rows = session.execute(
            select(DeliveryRow.platform, DeliveryRow.started_at, DeliveryRow.finished_at).where(
                DeliveryRow.finished_at.is_not(None)
            )
        ).all()
    return [
        (platform, max(0.0, (finished - started).total_seconds()))
        for platform, started, finished in rows
        if finished is not None
    ]

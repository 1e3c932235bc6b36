"""What the posts reached, in the database: readings of their metrics (due, claimed, done or failed) and the bot's own
counters (clicks, page views, calendar downloads). Hands out frozen values, never ORM rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain import Platform, PostKind, PostState
from bot.storage.tables import CounterRow, DeliveryRow, PlannedPostRow, ReachReadingRow
from bot.storage.values import parse_utc

DUE, CLAIMED, RETRYING, DONE, FAILED = "due", "claimed", "retrying", "done", "failed"
CLAIM_LEASE = timedelta(minutes=10)  # a claimed reading whose reader died is read again then (reads repeat safely)
MISSED = timedelta(days=1)  # a reading due longer ago than this when first planned is not made at all
REACTIONS = "reactions@"  # the slot prefix of counts the platform sent (Telegram's reactions), not read on schedule
REFRESH = "now@"  # the slot prefix of readings asked for on the spot (`report --refresh`)
CounterKey = tuple[str, str, str, str]  # event id, name (click, page_view, calendar), key, day (YYYY-MM-DD)


@dataclass(frozen=True, kw_only=True)
class ReachReading:
    """One reading of one published post: when it was (or is) due, and what came of it."""

    id: int
    planned_post_id: int
    event_id: str
    target: str
    platform: Platform
    slot: str  # "1h", "24h", "168h"; "now@..." asked for; "reactions@..." sent by the platform
    state: str
    due_at: datetime
    attempts: int = 0
    read_at: datetime | None = None
    metrics: Mapping[str, int] = field(default_factory=dict)
    cost: Decimal | None = None
    error: str | None = None
    post_ref: str | None = None  # the published post's id on the platform (the receipt's first id)


@dataclass(frozen=True, kw_only=True)
class SentPost:
    """A published post whose reach can be read: where and when it went out."""

    id: int
    event_id: str
    kind: PostKind
    step_id: str
    target: str
    platform: Platform
    lang: str
    post_ref: str
    link: str | None
    sent_at: datetime


def _reading(row: ReachReadingRow, post_ref: str | None = None) -> ReachReading:
    return ReachReading(
        id=row.id, planned_post_id=row.planned_post_id, event_id=row.event_id, target=row.target,
        platform=Platform(row.platform), slot=row.slot, state=row.state, due_at=row.due_at, attempts=row.attempts,
        read_at=row.read_at, metrics=dict(row.metrics or {}), cost=Decimal(row.cost) if row.cost else None,
        error=row.error, post_ref=post_ref)


def slot_name(after: timedelta) -> str:
    """'1h', '24h', '168h': a scheduled reading's name, by the hours after the post went out."""
    return f"{after.total_seconds() / 3600:g}h"


class ReachStore:
    """The readings and counters; each method is one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    # -- published posts ----------------------------------------------------------------------------------

    def sent_posts(self, *, event_id: str | None = None, targets: Iterable[str] | None = None,
                   since: datetime | None = None) -> list[SentPost]:
        """Published posts (not corrections, not change notices), each with when its first receipt came."""
        with self.sessions() as session:
            sent_at = func.min(DeliveryRow.finished_at)
            columns = (PlannedPostRow.id, PlannedPostRow.event_id, PlannedPostRow.kind, PlannedPostRow.step_id,
                       PlannedPostRow.target, PlannedPostRow.platform, PlannedPostRow.lang, PlannedPostRow.post_id,
                       PlannedPostRow.link)
            query = (
                select(*columns, sent_at)
                .join(DeliveryRow, DeliveryRow.planned_post_id == PlannedPostRow.id)
                .where(PlannedPostRow.state == PostState.SENT.value, PlannedPostRow.edits.is_(None),
                       PlannedPostRow.kind != PostKind.CHANGED.value, PlannedPostRow.post_id.is_not(None),
                       DeliveryRow.state == PostState.SENT.value)
                .group_by(*columns)
                .order_by(PlannedPostRow.id)
            )
            if event_id is not None:
                query = query.where(PlannedPostRow.event_id == event_id)
            if targets is not None:
                query = query.where(PlannedPostRow.target.in_(list(targets)))
            if since is not None:
                query = query.having(sent_at >= since)
            return [SentPost(id=id_, event_id=event, kind=PostKind(kind), step_id=step, target=target,
                             platform=Platform(platform), lang=lang, post_ref=str(ref), link=link,
                             sent_at=parse_utc(when))
                    for id_, event, kind, step, target, platform, lang, ref, link, when in session.execute(query)]

    def posts_by_message(self, targets: Sequence[str], message_id: str) -> list[int]:
        """The published posts on `targets` whose first message is `message_id` (a Telegram reaction's post)."""
        with self.sessions() as session:
            return list(session.scalars(select(PlannedPostRow.id).where(
                PlannedPostRow.target.in_(list(targets)), PlannedPostRow.post_id == message_id,
                PlannedPostRow.state == PostState.SENT.value, PlannedPostRow.edits.is_(None))))

    # -- scheduled readings ---------------------------------------------------------------------------------

    def plan(self, now: datetime, after: Sequence[timedelta], targets: Iterable[str]) -> int:
        """Plan each published post's readings on `targets` (1 h, 24 h, 7 days after it went out: `after`) that are
        not planned yet; one due longer ago than MISSED is left out. Returns how many were planned."""
        if not after:
            return 0
        posts = self.sent_posts(targets=targets, since=now - max(after) - MISSED)
        if not posts:
            return 0
        for attempt in range(3):  # replicas plan the same readings at once: the unique key keeps one of each
            try:
                return self._plan(posts, now, after)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _plan(self, posts: Sequence[SentPost], now: datetime, after: Sequence[timedelta]) -> int:
        with self.sessions.begin() as session:
            planned = {(post_id, slot) for post_id, slot in session.execute(
                select(ReachReadingRow.planned_post_id, ReachReadingRow.slot)
                .where(ReachReadingRow.planned_post_id.in_([p.id for p in posts])))}
            added = 0
            for post in posts:
                for delay in after:
                    slot, due = slot_name(delay), post.sent_at + delay
                    if (post.id, slot) in planned or due < now - MISSED:
                        continue
                    session.add(ReachReadingRow(planned_post_id=post.id, event_id=post.event_id, target=post.target,
                                                platform=post.platform.value, slot=slot, state=DUE, due_at=due,
                                                attempts=0, metrics={}))
                    added += 1
            return added

    def claim_due(self, now: datetime, worker: str, limit: int = 200) -> list[ReachReading]:
        """Take the readings due now (and those whose reader stopped mid-way) for `worker`, each with its post's id."""
        with self.sessions.begin() as session:
            due = (
                select(ReachReadingRow.id)
                .where(ReachReadingRow.state.in_((DUE, RETRYING, CLAIMED)), ReachReadingRow.due_at <= now,
                       or_(ReachReadingRow.next_attempt_at.is_(None), ReachReadingRow.next_attempt_at <= now))
                .order_by(ReachReadingRow.due_at, ReachReadingRow.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            rows = session.scalars(
                update(ReachReadingRow)
                .where(ReachReadingRow.id.in_(due.scalar_subquery()))
                .values(state=CLAIMED, claimed_by=worker, next_attempt_at=now + CLAIM_LEASE,
                        attempts=ReachReadingRow.attempts + 1)
                .returning(ReachReadingRow)
                .execution_options(synchronize_session=False)
            ).all()
            refs = {post_id: ref for post_id, ref in session.execute(select(PlannedPostRow.id, PlannedPostRow.post_id)
                                                                     .where(PlannedPostRow.id.in_(
                                                                         [row.planned_post_id for row in rows])))}
            found = [_reading(row, refs.get(row.planned_post_id)) for row in rows]
            return sorted(found, key=lambda r: (r.due_at, r.id))

    def settle(self, reading_id: int, worker: str, now: datetime, *, metrics: Mapping[str, int] | None = None,
               cost: Decimal | None = None, error: str | None = None, retry_at: datetime | None = None) -> bool:
        """End a claimed reading: done with its metrics, retried at `retry_at`, or failed with `error`."""
        if metrics is not None:
            values: dict[str, object] = {"state": DONE, "read_at": now, "metrics": dict(metrics),
                                         "cost": str(cost) if cost is not None else None, "error": None,
                                         "next_attempt_at": None}
        elif retry_at is not None:
            values = {"state": RETRYING, "next_attempt_at": retry_at, "error": error}
        else:
            values = {"state": FAILED, "next_attempt_at": None, "error": error}
        with self.sessions.begin() as session:
            result = session.execute(
                update(ReachReadingRow)
                .where(ReachReadingRow.id == reading_id, ReachReadingRow.state == CLAIMED,
                       ReachReadingRow.claimed_by == worker)
                .values(**values)
                .execution_options(synchronize_session=False))
            return bool(getattr(result, "rowcount", 0))

    def record(self, post: SentPost | int, slot: str, now: datetime, metrics: Mapping[str, int], *,
               cost: Decimal | None = None) -> None:
        """A reading made on the spot (`now@...`) or sent by the platform (`reactions@...`); the same slot again
        replaces what it said."""
        with self.sessions.begin() as session:
            post_id = post if isinstance(post, int) else post.id
            row = session.scalars(select(ReachReadingRow).where(ReachReadingRow.planned_post_id == post_id,
                                                                ReachReadingRow.slot == slot)).first()
            if row is None:
                planned = session.get(PlannedPostRow, post_id)
                if planned is None:
                    return
                row = ReachReadingRow(planned_post_id=post_id, event_id=planned.event_id, target=planned.target,
                                      platform=planned.platform, slot=slot, due_at=now, attempts=1)
                session.add(row)
            row.state, row.read_at, row.metrics = DONE, now, dict(metrics)
            row.cost = str(cost) if cost is not None else None

    # -- what the report reads ----------------------------------------------------------------------------

    def readings(self, event_id: str) -> list[ReachReading]:
        with self.sessions() as session:
            rows = session.scalars(select(ReachReadingRow).where(ReachReadingRow.event_id == event_id)
                                   .order_by(ReachReadingRow.due_at, ReachReadingRow.id)).all()
            return [_reading(row) for row in rows]

    def reads_since(self, platform: Platform, since: datetime) -> int:
        """Posts read from `platform` since `since` (what its daily budget counts; not what the platform sent)."""
        with self.sessions() as session:
            count = session.scalar(select(func.count()).select_from(ReachReadingRow).where(
                ReachReadingRow.platform == platform.value, ReachReadingRow.read_at >= since,
                ReachReadingRow.state == DONE, ReachReadingRow.slot.not_like(f"{REACTIONS}%")))
            return int(count or 0)

    def spent_since(self, platform: Platform, since: datetime) -> Decimal:
        """US dollars billed for reading `platform` since `since` (X bills each post read)."""
        with self.sessions() as session:
            costs = session.scalars(select(ReachReadingRow.cost).where(
                ReachReadingRow.platform == platform.value, ReachReadingRow.read_at >= since,
                ReachReadingRow.cost.is_not(None)))
            return sum((Decimal(cost) for cost in costs if cost), Decimal(0))

    # -- the bot's own counters ---------------------------------------------------------------------------

    def add_counts(self, counts: Mapping[CounterKey, int]) -> None:
        """Add to the counters (clicks, page views, calendar downloads), per event, name, key and day."""
        with self.sessions.begin() as session:
            for (event_id, name, key, day), count in counts.items():
                where = (CounterRow.event_id == event_id, CounterRow.name == name, CounterRow.key == key[:500],
                         CounterRow.day == day)
                result = session.execute(update(CounterRow).where(*where).values(count=CounterRow.count + count)
                                         .execution_options(synchronize_session=False))
                if getattr(result, "rowcount", 0):
                    continue
                try:
                    with session.begin_nested():  # another process may insert the same counter meanwhile
                        session.add(CounterRow(event_id=event_id, name=name, key=key[:500], day=day, count=count))
                except IntegrityError:
                    session.execute(update(CounterRow).where(*where).values(count=CounterRow.count + count)
                                    .execution_options(synchronize_session=False))

    def counts(self, event_id: str) -> list[tuple[str, str, str, int]]:
        """(name, key, day, count) of every counter of the event."""
        with self.sessions() as session:
            rows = session.execute(select(CounterRow.name, CounterRow.key, CounterRow.day, CounterRow.count)
                                   .where(CounterRow.event_id == event_id)
                                   .order_by(CounterRow.name, CounterRow.day, CounterRow.key))
            return [(name, key, day, int(count)) for name, key, day, count in rows]

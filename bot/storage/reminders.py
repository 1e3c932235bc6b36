"""Personal reminders in the database: one row per (person, event, step), queued once, claimed in batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utcnow
from bot.domain import EventStatus, Platform, ReminderState
from bot.storage.tables import BroadcastRow, EventRow, ReminderRow, SubscriberRow, SubscriptionRow, UTCDateTime

_TABLE = cast(Table, ReminderRow.__table__)  # Core statements for the group updates (executemany)
OPEN = (ReminderState.QUEUED, ReminderState.CLAIMED, ReminderState.SENDING)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reminder:
    """One reminder to one person, as the sender sees it."""

    id: int
    messenger: Platform
    user_id: int
    chat_id: int
    event_id: str
    step_id: str
    kind: str
    lang: str
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    """What became of one row that was `sending`: its new state (`queued` again, to be retried at
    `next_attempt_at`), the message's id or the error; `unsent` when the request never left (attempt not
    counted)."""

    row_id: int
    state: ReminderState
    message_id: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    unsent: bool = False


def _reminder(row: ReminderRow) -> Reminder:
    return Reminder(id=row.id, messenger=Platform(row.messenger), user_id=row.user_id, chat_id=row.chat_id,
                    event_id=row.event_id, step_id=row.step_id, kind=row.kind, lang=row.lang, attempts=row.attempts)


@dataclass(frozen=True, kw_only=True)
class Progress:
    """How far one broadcast (an event's step) has got."""

    event_id: str
    step_id: str
    total: int
    sent: int
    waiting: int  # queued, claimed or being sent
    failed: int
    blocked: int
    skipped: int
    unknown: int

    @property
    def done(self) -> int:
        return self.total - self.waiting

    def line(self) -> str:
        return (f"{self.event_id} {self.step_id}: {self.sent}/{self.total} sent, {self.waiting} waiting, "
                f"{self.failed} failed, {self.blocked} blocked, {self.skipped} skipped, {self.unknown} unknown")


# The statements of the sender's hot path, built once (an expanding IN and executemany parameters).
_T = _TABLE.c
_MINE = (_T.claimed_by == bindparam("worker"),)
_SETTLE = (
    update(_TABLE)
    .where(_T.id == bindparam("row"), _T.state == ReminderState.SENDING, *_MINE)
    .values(state=bindparam("to"), message_id=bindparam("message"), error=bindparam("why"),
            next_attempt_at=bindparam("when"), claimed_by=bindparam("by"), attempts=_T.attempts - bindparam("unsent"),
            updated_at=bindparam("now"))
)
_SKIP = (update(_TABLE).where(_T.id == bindparam("row"), _T.state == ReminderState.CLAIMED, *_MINE)
         .values(state=ReminderState.SKIPPED, error=bindparam("why"), updated_at=bindparam("now")))
_LATER = (update(_TABLE).where(_T.id == bindparam("row"), _T.state == ReminderState.CLAIMED, *_MINE)
          .values(state=ReminderState.QUEUED, next_attempt_at=bindparam("when"), claimed_by=None,
                  updated_at=bindparam("now")))
_SENDING = (update(_TABLE).where(_T.id.in_(bindparam("rows", expanding=True)), _T.state == ReminderState.CLAIMED,
                                 *_MINE)
            .values(state=ReminderState.SENDING, attempts=_T.attempts + 1, updated_at=bindparam("now"))
            .returning(_T.id))


def _settle(connection: Connection, worker: str, outcomes: Sequence[Settled], now: datetime) -> None:
    if outcomes:
        connection.execute(_SETTLE, [
            {"row": o.row_id, "to": o.state, "message": o.message_id, "why": o.error, "when": o.next_attempt_at,
             "by": None if o.state == ReminderState.QUEUED else worker, "unsent": int(o.unsent), "worker": worker,
             "now": now} for o in outcomes])


class ReminderQueue:
    """The reminder rows in the database; every method is one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._engine: Engine = sessions.kw["bind"]

    def _insert(self, session: Session) -> Callable[..., object]:
        return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert

    def enqueue(self, event_id: str, step_id: str, kind: str, due_at: datetime, now: datetime,
                note: str | None = None, *, people: bool = True) -> int | None:
        """Queue the step for every active subscriber of the event, once: None if it was queued before."""
        with self.sessions.begin() as session:
            if session.get(BroadcastRow, (event_id, step_id)) is not None:
                return None
            broadcast = BroadcastRow(event_id=event_id, step_id=step_id, kind=kind, due_at=due_at, total=0,
                                     note=note, created_at=now)
            session.add(broadcast)
            session.flush()
            if not people:
                return 0
            wants = or_(
                SubscriberRow.all_events.is_(True),
                exists().where(SubscriptionRow.messenger == SubscriberRow.messenger,
                               SubscriptionRow.user_id == SubscriberRow.user_id, SubscriptionRow.event_id == event_id),
            )
            chosen = select(
                SubscriberRow.messenger, SubscriberRow.user_id, SubscriberRow.chat_id, literal(event_id),
                literal(step_id), literal(kind), SubscriberRow.lang, literal(ReminderState.QUEUED), literal(0),
                literal(now, UTCDateTime()), literal(now, UTCDateTime()),
            ).where(SubscriberRow.active.is_(True), wants)
            insert = self._insert(session)(ReminderRow)
            statement = insert.from_select(  # type: ignore[attr-defined]
                ["messenger", "user_id", "chat_id", "event_id", "step_id", "kind", "lang", "state", "attempts",
                 "created_at", "updated_at"], chosen,
            ).on_conflict_do_nothing(index_elements=["messenger", "user_id", "event_id", "step_id"])
            session.execute(statement)
            # Counted, not read from rowcount: psycopg reports -1 for this INSERT ... SELECT.
            broadcast.total = session.scalar(select(func.count()).select_from(ReminderRow).where(
                ReminderRow.event_id == event_id, ReminderRow.step_id == step_id)) or 0
            return broadcast.total

    def queued(self, event_id: str, step_id: str) -> bool:
        with self.sessions() as session:
            return session.get(BroadcastRow, (event_id, step_id)) is not None

    def claim(self, now: datetime, worker: str, limit: int, messenger: Platform | None = None) -> list[Reminder]:
        """Up to `limit` due rows (of one messenger's people, or of everyone's), claimed by `worker`."""
        with self.sessions.begin() as session:
            due = (
                select(ReminderRow.id)
                .where(ReminderRow.state == ReminderState.QUEUED,
                       or_(ReminderRow.next_attempt_at.is_(None), ReminderRow.next_attempt_at <= now),
                       *_of(messenger))
                .order_by(ReminderRow.id).limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            rows = session.scalars(
                update(ReminderRow)
                .where(ReminderRow.id.in_(due.scalar_subquery()), ReminderRow.state == ReminderState.QUEUED)
                .values(state=ReminderState.CLAIMED, claimed_by=worker, claimed_at=now, updated_at=now)
                .returning(ReminderRow)
                .execution_options(synchronize_session=False)
            ).all()
            return sorted((_reminder(row) for row in rows), key=lambda row: row.id)

    def mark(self, worker: str, sending: Sequence[int], skipped: Sequence[tuple[int, str]] = (),
             later: Sequence[tuple[int, datetime]] = (), settled: Sequence[Settled] = ()) -> set[int]:
        """One transaction for a group of claimed rows about to go out: `sending` are marked so (from here on, a
        crash means 'unknown', never a second message), `skipped` get their reason, `later` go back to the queue
        until then (a chat that had a message too recently); `settled` are outcomes of earlier sends written in
        the same transaction. Returns the ids now `sending` (a claim a replica's recovery took back is not among
        them)."""
        now = utcnow()
        with self._engine.begin() as connection:  # no ORM session: this runs ~50 times a second at 1,000/s
            _settle(connection, worker, settled, now)
            if skipped:
                connection.execute(_SKIP, [{"row": row, "why": why, "worker": worker, "now": now}
                                           for row, why in skipped])
            if later:
                connection.execute(_LATER, [{"row": row, "when": when, "worker": worker, "now": now}
                                            for row, when in later])
            if not sending:
                return set()
            marked = connection.execute(_SENDING, {"rows": list(sending), "worker": worker, "now": now})
            return set(marked.scalars())

    def sending(self, row_id: int, worker: str) -> bool:
        """One row marked `sending` (see `mark`)."""
        return row_id in self.mark(worker, [row_id])

    def settle(self, worker: str, outcomes: Sequence[Settled]) -> None:
        """The outcomes of rows that were `sending`, written in one transaction (the receipts of a group)."""
        if not outcomes:
            return
        with self._engine.begin() as connection:
            _settle(connection, worker, outcomes, utcnow())

    def release(self, rows: Sequence[Reminder], worker: str) -> None:
        """Claimed rows given back unsent (shutting down)."""
        ids = [row.id for row in rows]
        if not ids:
            return
        with self.sessions.begin() as session:
            session.execute(
                update(ReminderRow)
                .where(ReminderRow.id.in_(ids), ReminderRow.state == ReminderState.CLAIMED,
                       ReminderRow.claimed_by == worker)
                .values(state=ReminderState.QUEUED, claimed_by=None, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    def next_due(self, messenger: Platform | None = None) -> datetime | None:
        """When the earliest queued row that waits (for a chat, a 429, a retry) may be claimed."""
        with self.sessions() as session:
            return session.scalar(select(func.min(ReminderRow.next_attempt_at))
                                  .where(ReminderRow.state == ReminderState.QUEUED, *_of(messenger)))

    def recover(self, older_than: datetime | None = None, messenger: Platform | None = None) -> tuple[int, int]:
        """After a crash: claimed rows go back to the queue; rows caught mid-send become unknown.

        Returns (given back, unknown). With `older_than` (replicas sharing the database) only claims
        older than that are touched; with `messenger`, only that messenger's (its sender may be starting while
        another messenger's sends).
        """
        with self.sessions.begin() as session:
            counts = []
            for source, values in (
                (ReminderState.CLAIMED, {"state": ReminderState.QUEUED, "claimed_by": None}),
                (ReminderState.SENDING, {"state": ReminderState.UNKNOWN,
                                         "error": "the bot stopped while sending: it may or may not have arrived"}),
            ):
                query = update(ReminderRow).where(ReminderRow.state == source, *_of(messenger))
                if older_than is not None:
                    query = query.where(ReminderRow.claimed_at < older_than)
                result = session.execute(query.values(updated_at=utcnow(), **values)
                                         .execution_options(synchronize_session=False))
                counts.append(int(getattr(result, "rowcount", 0) or 0))
            return counts[0], counts[1]

    def progress(self, event_id: str | None = None) -> list[Progress]:
        with self.sessions() as session:
            query = select(ReminderRow.event_id, ReminderRow.step_id, ReminderRow.state, func.count()).group_by(
                ReminderRow.event_id, ReminderRow.step_id, ReminderRow.state)
            broadcasts = select(BroadcastRow).order_by(BroadcastRow.due_at, BroadcastRow.step_id)
            if event_id is not None:
                query = query.where(ReminderRow.event_id == event_id)
                broadcasts = broadcasts.where(BroadcastRow.event_id == event_id)
            counts: dict[tuple[str, str], dict[str, int]] = {}
            for ev, step, state, count in session.execute(query):
                counts.setdefault((ev, step), {})[state] = count
            result = []
            for broadcast in session.scalars(broadcasts):
                mine = counts.get((broadcast.event_id, broadcast.step_id), {})
                result.append(Progress(
                    event_id=broadcast.event_id, step_id=broadcast.step_id, total=sum(mine.values()),
                    sent=mine.get(ReminderState.SENT, 0),
                    waiting=sum(mine.get(s, 0) for s in OPEN),
                    failed=mine.get(ReminderState.FAILED, 0), blocked=mine.get(ReminderState.BLOCKED, 0),
                    skipped=mine.get(ReminderState.SKIPPED, 0), unknown=mine.get(ReminderState.UNKNOWN, 0),
                ))
            return result

    def live_events(self, now: datetime) -> list[tuple[str, datetime, datetime]]:
        """Scheduled events not over for more than a day, the ones whose reminder steps may come due: (id,
        start, end), read from the columns (no event is parsed)."""
        with self.sessions() as session:
            rows = session.execute(select(EventRow.id, EventRow.start_at, EventRow.end_at).where(
                EventRow.status == EventStatus.SCHEDULED.value, EventRow.end_at > now - timedelta(days=1)))
            return [(event_id, start, end) for event_id, start, end in rows]

    def broadcasts(self, event_ids: Sequence[str]) -> set[tuple[str, str]]:
        """The (event, step) pairs of these events queued (or recorded as not sent) already."""
        if not event_ids:
            return set()
        with self.sessions() as session:
            rows = session.execute(select(BroadcastRow.event_id, BroadcastRow.step_id)
                                   .where(BroadcastRow.event_id.in_(event_ids)))
            return {(event_id, step_id) for event_id, step_id in rows}

    def open_count(self, messenger: Platform | None = None) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(ReminderRow)
                                  .where(ReminderRow.state.in_(OPEN), *_of(messenger))) or 0


def _of(messenger: Platform | None) -> tuple[Any, ...]:
    """The rows of one messenger's people (None: everyone's)."""
    return () if messenger is None else (ReminderRow.messenger == messenger.value,)

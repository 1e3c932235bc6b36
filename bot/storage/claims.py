"""The delivery state machine in the database: claim, start, record parts, settle; recovery after a crash; the
organiser's commands on one post and approvals; what the scheduler looks up."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.domain import (
    CLAIMABLE,
    COMMANDS,
    Approval,
    Command,
    PlannedPost,
    PostKind,
    PostState,
    StoredEvent,
    sources,
)
from bot.storage.hotpath import HotPath, Settle, Settlement, Start
from bot.storage.tables import DeliveryRow, EventRow, PlannedPostRow
from bot.storage.values import (
    WITH_TEXT,
    parse_utc,
    planned_post,
    values_of,
)

_S = PostState


class Claims:
    """The delivery state machine in the database: claim, start, record parts, settle; recovery; commands.

    A post is claimed with one atomic UPDATE before its network call, so that no two senders (tasks,
    processes or replicas) ever send it twice; PostgreSQL skips rows another replica has locked. Every
    move follows `bot.domain.TRANSITIONS`.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.hot = HotPath(sessions.kw["bind"])  # start and settle: the two writes of every post

    def claim_due(self, now: datetime, worker: str, limit: int = 500) -> list[PlannedPost]:
        with self.sessions.begin() as session:
            due = (
                select(PlannedPostRow.id)
                .where(
                    PlannedPostRow.state.in_(values_of(CLAIMABLE)),
                    PlannedPostRow.due_at <= now,
                    or_(PlannedPostRow.next_attempt_at.is_(None), PlannedPostRow.next_attempt_at <= now),
                    PlannedPostRow.approval != Approval.PENDING.value,  # not without the approvers' sign-off
                )
                .order_by(PlannedPostRow.due_at, PlannedPostRow.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            claimed = session.scalars(
                update(PlannedPostRow)
                .where(PlannedPostRow.id.in_(due.scalar_subquery()), PlannedPostRow.state.in_(values_of(CLAIMABLE)))
                .values(state=_S.CLAIMED.value, claimed_by=worker, claimed_at=now,
                        attempts=PlannedPostRow.attempts + 1, updated_at=now)
                .returning(PlannedPostRow)
                .options(WITH_TEXT)
                .execution_options(synchronize_session=False)
            ).all()
            return sorted((planned_post(row) for row in claimed), key=lambda post: (post.due_at, post.id))

    def claim(self, post_id: int, now: datetime, worker: str) -> PlannedPost | None:
        """Claim one planned or retrying post whatever its due time (the organiser's "publish now"); None if not."""
        with self.sessions.begin() as session:
            row = session.scalars(
                update(PlannedPostRow)
                .where(PlannedPostRow.id == post_id, PlannedPostRow.state.in_(values_of(CLAIMABLE)),
                       PlannedPostRow.approval != Approval.PENDING.value)
                .values(state=_S.CLAIMED.value, claimed_by=worker, claimed_at=now,
                        attempts=PlannedPostRow.attempts + 1, updated_at=now)
                .returning(PlannedPostRow)
                .options(WITH_TEXT)
                .execution_options(synchronize_session=False)
            ).first()
            return planned_post(row) if row is not None else None

    def start(self, post: PlannedPost, worker: str, now: datetime, actor: str | None = None,
              event: StoredEvent | None = None) -> int | None:
        """Record the attempt just before its request may leave; None if this worker lost the claim meanwhile
        (a replica judged it stale): then it must not send. Renews the claim's lease.

        With `event` (the version the post was rendered from), the attempt is recorded only while the stored
        event is still that version: else EVENT_CHANGED, and the caller renders it again (or drops it)."""
        return self.start_many([(post, worker, actor, event)], now)[0]

    def start_many(self, attempts: Sequence[Start], now: datetime) -> list[int | None]:
        """`start` for several posts in one transaction (one durable commit for a whole group of senders)."""
        return self.hot.write(attempts, (), now)[0]

    def write_many(self, starts: Sequence[Start], settlements: Sequence[Settle], now: datetime
                   ) -> tuple[list[int | None], list[bool]]:
        """Starts and settlements of different posts in one transaction: a sender's receipt and the next
        sender's start share one durable commit."""
        return self.hot.write(starts, settlements, now)

    def record_parts(self, post_id: int, worker: str, parts: Sequence[str]) -> bool:
        """The parts of a post published so far, written as each one is accepted (a retry resumes after them)."""
        with self.sessions.begin() as session:
            result = session.execute(
                update(PlannedPostRow)
                .where(PlannedPostRow.id == post_id, PlannedPostRow.claimed_by == worker,
                       PlannedPostRow.state == _S.CLAIMED.value)
                .values(parts=list(parts))
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0))

    def settle(self, post: PlannedPost, worker: str, delivery_id: int | None, outcome: Settlement,
               now: datetime) -> bool:
        """End this attempt: the post's new state and its delivery row, in one transaction.

        A receipt always wins: a post whose claim was judged stale (marked unknown by a replica's recovery)
        while it was in fact being published is marked sent, so that nobody sends it again.
        """
        return self.settle_many([(post, worker, delivery_id, outcome)], now)[0]

    def settle_many(self, outcomes: Sequence[Settle], now: datetime) -> list[bool]:
        """`settle` for several posts in one transaction."""
        return self.hot.write((), outcomes, now)[1]

    # -- recovery --------------------------------------------------------------------------------------

    def stale_claims(self, older_than: datetime | None = None, alive: Iterable[str] = ()) -> list[PlannedPost]:
        """Claims whose sender is gone: every claim but those of `alive` workers (a single process at start-up),
        or with replicas those older than a lease."""
        keep = list(alive)
        with self.sessions() as session:
            query = select(PlannedPostRow).where(PlannedPostRow.state == _S.CLAIMED.value)
            if older_than is not None:
                query = query.where(PlannedPostRow.claimed_at < older_than)
            if keep:
                query = query.where(PlannedPostRow.claimed_by.not_in(keep))
            return [planned_post(row) for row in session.scalars(query)]

    def resolve_stale(self, post: PlannedPost, *, resend: bool, now: datetime) -> PostState | None:
        """Settle a claim whose sender is gone; returns the new state, or None if someone else did.

        Its receipt recorded: sent. No attempt in flight (the sender died before its request could leave):
        planned again, the attempt not counted. An attempt in flight: nobody knows whether the platform
        published it, so the post is marked unknown for a person to check, or planned again when the
        campaign step says to re-send (the parts already recorded are kept either way, so a re-send
        continues a thread rather than repeating it).
        """
        with self.sessions.begin() as session:
            attempts = session.scalars(select(DeliveryRow).where(DeliveryRow.planned_post_id == post.id)).all()
            in_flight = [d for d in attempts if d.state == _S.CLAIMED.value]
            receipt = next((d for d in attempts if d.state == _S.SENT.value), None)
            values: dict[str, Any]
            if receipt is not None:
                # Published and its receipt recorded, but the post's own row missed it: it must not go out again.
                state = _S.SENT
                values = {"post_id": receipt.post_id, "link": receipt.link, "reason": None}
            elif not in_flight:
                state, values = _S.PLANNED, {"reason": None, "attempts": PlannedPostRow.attempts - 1}
            elif resend:
                state, values = _S.PLANNED, {"reason": "re-sent after a crash (its outcome was unknown)"}
            else:
                state = _S.UNKNOWN
                values = {"reason": "the bot stopped while sending it: it may or may not have been published"}
            # Compare-and-set on the claim's time: if its sender renewed it (started sending) after we read it,
            # the claim is not stale and nothing changes. Without this, a sender that started between our read of
            # its deliveries and this update would be given back to the queue while sending: a duplicate.
            same_claim = (PlannedPostRow.claimed_at.is_(None) if post.claimed_at is None
                          else PlannedPostRow.claimed_at == post.claimed_at)
            result = session.execute(
                update(PlannedPostRow)
                .where(PlannedPostRow.id == post.id, PlannedPostRow.state == _S.CLAIMED.value,
                       PlannedPostRow.claimed_by == post.claimed_by, same_claim)
                .values(updated_at=now, state=state.value, next_attempt_at=None, **values)
                .execution_options(synchronize_session=False)
            )
            if not getattr(result, "rowcount", 0):
                return None
            for attempt in in_flight:
                attempt.state, attempt.finished_at = _S.UNKNOWN.value, now
                attempt.error = "the bot stopped before the platform's answer was recorded"
            return state

    def receipts_found(self, now: datetime) -> list[PlannedPost]:
        """Unknown posts whose receipt is on record after all (their sender's claim was taken over while it
        was still publishing): marked sent, so that the suggested retry can never send them twice."""
        with self.sessions.begin() as session:
            rows = session.execute(
                select(PlannedPostRow, DeliveryRow)
                .join(DeliveryRow, DeliveryRow.planned_post_id == PlannedPostRow.id)
                .where(PlannedPostRow.state == _S.UNKNOWN.value, DeliveryRow.state == _S.SENT.value)
            ).all()
            found = []
            for post, receipt in rows:
                if post.state != _S.UNKNOWN.value:
                    continue  # two receipts for one post: already settled by the first
                post.state, post.post_id, post.link, post.reason = _S.SENT.value, receipt.post_id, receipt.link, None
                post.updated_at = now
                found.append(planned_post(post))
            return found

    # -- the organiser's commands ---------------------------------------------------------------------

    def command(self, post_id: int, command: Command, now: datetime, actor: str | None = None,
                reason: str | None = None) -> tuple[PlannedPost | None, PlannedPost | None]:
        """Apply an organiser's command to one post if its state allows it (`COMMANDS`); returns the post as it
        was and as it is now (equal when the command was refused; None, None when there is no such post)."""
        target = _S.SKIPPED if command is Command.SKIP else _S.PLANNED
        allowed = COMMANDS[command] & sources(target) if command is not Command.PUBLISH else COMMANDS[command]
        with self.sessions.begin() as session:
            row = session.get(PlannedPostRow, post_id, with_for_update=True)
            if row is None:
                return None, None
            before = planned_post(row)
            if before.state not in allowed:
                return before, before
            if command is Command.SKIP:
                row.state, row.reason = _S.SKIPPED.value, reason or "skipped by the organiser"
            else:
                # Back to planned, due now, the attempts counted afresh: the scheduler (or "publish now") takes it.
                row.state, row.attempts, row.reason = _S.PLANNED.value, 0, reason or f"{command.value} asked"
                if row.due_at > now:
                    row.due_at = now
            row.next_attempt_at, row.actor, row.updated_at = None, actor, now
            return before, planned_post(row)

    # -- approval -------------------------------------------------------------------------------------

    def approve(self, post_id: int, actor: str, now: datetime) -> tuple[PlannedPost | None, PlannedPost | None]:
        """An approver signs a post off (for the event as it is now); one awaiting approval goes out now.
        Returns the post as it was and as it is now (equal when refused; None, None when there is none)."""
        with self.sessions.begin() as session:
            row = session.get(PlannedPostRow, post_id, with_for_update=True)
            if row is None:
                return None, None
            before = planned_post(row)
            if before.state not in COMMANDS[Command.APPROVE] or before.approval is not Approval.PENDING:
                return before, before
            row.approval, row.approved_by, row.approved_at = Approval.APPROVED.value, actor, now
            if before.state is _S.AWAITING_APPROVAL:
                row.state, row.reason = _S.PLANNED.value, None
            row.updated_at = now
            return before, planned_post(row)

    def hold_for_approval(self, now: datetime) -> list[PlannedPost]:
        """Posts that came due without their sign-off: they wait, in state `awaiting approval`."""
        with self.sessions.begin() as session:
            rows = session.scalars(
                update(PlannedPostRow)
                .where(PlannedPostRow.state == _S.PLANNED.value, PlannedPostRow.approval == Approval.PENDING.value,
                       PlannedPostRow.due_at <= now)
                .values(state=_S.AWAITING_APPROVAL.value, reason="due, but not approved yet", updated_at=now)
                .returning(PlannedPostRow)
                .execution_options(synchronize_session=False)
            ).all()
            return [planned_post(row) for row in rows]

    def awaiting_approval(self) -> list[PlannedPost]:
        with self.sessions() as session:
            return [planned_post(row) for row in session.scalars(
                select(PlannedPostRow).where(PlannedPostRow.state == _S.AWAITING_APPROVAL.value))]

    def approvals_to_ask(self, until: datetime) -> list[PlannedPost]:
        """Posts awaiting a sign-off due before `until` whose approvers have not been asked (since a change)."""
        with self.sessions() as session:
            return [planned_post(row) for row in session.scalars(
                select(PlannedPostRow)
                .where(PlannedPostRow.approval == Approval.PENDING.value, PlannedPostRow.approval_asked_at.is_(None),
                       PlannedPostRow.state.in_((_S.PLANNED.value, _S.AWAITING_APPROVAL.value)),
                       PlannedPostRow.due_at <= until)
                .order_by(PlannedPostRow.due_at, PlannedPostRow.id))]

    def mark_asked(self, post_ids: Sequence[int], now: datetime) -> None:
        with self.sessions.begin() as session:
            session.execute(update(PlannedPostRow).where(PlannedPostRow.id.in_(list(post_ids)))
                            .values(approval_asked_at=now).execution_options(synchronize_session=False))

    # -- lookups the scheduler needs ------------------------------------------------------------------

    def sent_post(self, event_id: str, target: str, kind: PostKind) -> PlannedPost | None:
        """The first post of `kind` that went out for this event on this target."""
        with self.sessions() as session:
            row = session.scalars(
                select(PlannedPostRow)
                .where(PlannedPostRow.event_id == event_id, PlannedPostRow.target == target,
                       PlannedPostRow.kind == kind.value, PlannedPostRow.state == _S.SENT.value)
                .order_by(PlannedPostRow.due_at)
                .limit(1)
            ).first()
            return planned_post(row) if row is not None else None

    def set_pinned(self, post_id: int, message_id: str | None) -> None:
        with self.sessions.begin() as session:
            session.execute(update(PlannedPostRow).where(PlannedPostRow.id == post_id)
                            .values(pinned_message_id=message_id))

    def pinned_after_the_event(self, now: datetime) -> list[PlannedPost]:
        """Live posts whose pinned announcement should now be unpinned: their event is over."""
        with self.sessions() as session:
            return [planned_post(row) for row in session.scalars(
                select(PlannedPostRow)
                .join(EventRow, EventRow.id == PlannedPostRow.event_id)
                .where(PlannedPostRow.pinned_message_id.is_not(None), EventRow.end_at <= now)
            )]

    def next_wake(self) -> datetime | None:
        """When the next planned or retrying post comes due."""
        with self.sessions() as session:
            # Two index lookups: a planned post is due at its time, a retrying one at its next attempt.
            planned = session.scalar(select(func.min(PlannedPostRow.due_at))
                                     .where(PlannedPostRow.state == _S.PLANNED.value))
            retry = session.scalar(select(func.min(PlannedPostRow.next_attempt_at))
                                   .where(PlannedPostRow.state == _S.RETRYING.value))
            found = [parse_utc(value) for value in (planned, retry) if value is not None]
            return min(found) if found else None

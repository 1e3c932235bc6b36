"""Events and their planned posts in the database: an event stored and its plan brought in line (sync), withdrawn,
its go-live links and recording laid over; the posts and the delivery log read back as frozen values."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, func, select, update
from sqlalchemy import event as engine_events
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utcnow
from bot.domain import (
    STORED,
    Approval,
    Event,
    EventOrigin,
    EventStatus,
    PostKind,
    PostState,
    StoredEvent,
    content_hash,
    with_overlays,
)
from bot.planning import FIRST_SEEN_GRACE, Late, PlanItem
from bot.storage.hotpath import WITHDRAWN
from bot.storage.plans import desired, keep_rendering, new_post, plan_notices, plan_summary_edits, update_post
from bot.storage.posts import PostReads
from bot.storage.tables import EventRow, PlannedPostRow
from bot.storage.values import (
    REPLANNABLE,
    UNSENT,
    WITHDRAWN_PREFIX,
    stored_event,
    values_of,
)

_S = PostState
# An event's bookkeeping without its JSON (Store.record: the parsed event is kept per version).
_LIGHT = select(EventRow.content_hash, EventRow.origin, EventRow.source, EventRow.withdrawn, EventRow.created_at,
                EventRow.updated_at).where(EventRow.id == bindparam("b_id"))


@dataclass(frozen=True, kw_only=True)
class EventMark:
    """A stored event's bookkeeping, read without parsing the event: where it comes from, its version, the
    configuration its plan was made with, its go-live links, its start and status as stored, and a `mark` that
    changes whenever anything writes its row."""

    origin: EventOrigin
    source: str
    withdrawn: bool
    version: str
    planned_with: str | None
    live_links: tuple[tuple[str, str], ...]
    recording_links: tuple[tuple[str, str], ...]
    start: datetime
    status: str
    mark: tuple[object, ...]


@dataclass(frozen=True, kw_only=True)
class SyncResult:
    event_id: str
    outcome: str  # "created", "updated", "unchanged", "restored" or "ignored" (taken over in the dashboard)
    planned: int = 0  # posts added
    replanned: int = 0  # posts whose time, language or state changed
    cancelled: int = 0  # posts no longer wanted
    past: int = 0  # posts already past when first planned: skipped, not sent late
    held: int = 0  # new posts waiting (the event is a draft, or its summary has no report yet)
    notice: str | None = None  # the step id of the change notices planned (subscribers are told too)
    stopped: int = 0  # unsent posts that will not go out now (the event cancelled or postponed)
    moved: int = 0  # unsent posts given a new time
    notices: tuple[str, ...] = ()  # the targets a change notice goes to now


class Store(PostReads):
    """Events and their planned posts as the rest of the bot sees them. Each method is one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._parsed: dict[str, tuple[str, Event]] = {}  # id -> (content hash, event): parsed once per version
        # Commits made through this engine (by this process): a reader's memo of an answer holds while it stands.
        self.commits = 0
        self._counting = threading.Lock()  # commits come from worker threads
        engine_events.listen(self.engine, "commit", self._committed)

    def _committed(self, _connection: Connection) -> None:
        with self._counting:
            self.commits += 1

    @property
    def engine(self) -> Engine:
        engine: Engine = self.sessions.kw["bind"]
        return engine

    def _event(self, row: EventRow) -> StoredEvent:
        cached = self._parsed.get(row.id)
        if cached is None or cached[0] != row.content_hash:
            cached = (row.content_hash, Event.model_validate(row.data, context=STORED))
            self._parsed[row.id] = cached
        return stored_event(row, cached[1])

    # -- events ---------------------------------------------------------------------------------------

    def sync_event(
        self, event: Event, source: str, items: Sequence[PlanItem], *, origin: EventOrigin = EventOrigin.FILE,
        notify_changes: bool = False, now: datetime | None = None, skip_past: bool = True,
        planned_with: str | None = None,
    ) -> SyncResult:
        """Store `event` and bring its planned posts in line with `items` (see `_sync_event`).

        Replicas import the same files at the same time; if another one inserted the event or a post
        first, this transaction fails on the unique key and is simply run again against what it wrote.
        """
        for attempt in range(3):
            try:
                return self._sync_event(event, source, items, origin=origin, notify_changes=notify_changes,
                                        now=now or utcnow(), skip_past=skip_past, planned_with=planned_with)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _sync_event(
        self, event: Event, source: str, items: Sequence[PlanItem], *, origin: EventOrigin, notify_changes: bool,
        now: datetime, skip_past: bool, planned_with: str | None,
    ) -> SyncResult:
        """Store `event` and bring its planned posts in line with `items`; unchanged input writes nothing.

        - A post planned for the first time whose due time is already past goes out now or is skipped, as its
          item's `late` says (bot.planning.first_sight; with `skip_past` off it is simply planned); an item
          planned without a clock is skipped: `announce-bot retry` sends one on purpose.
        - Each item's rendering (when it has one) is stored with its post while nothing of the post went out,
          and `planned_with` names the configuration the plan was made with.
        - An event made or taken over in the dashboard is not changed by its file (outcome "ignored").
        - A withdrawn event that comes back (its file restored) is restored, and so are its cancelled posts.
        - With `notify_changes`, a new time, a postponement or a cancellation plans a `changed` notice, due
          now, on every target that already carried the announcement.
        """
        active = event.status is EventStatus.SCHEDULED
        planned = replanned = cancelled = past = held = stopped = moved = 0
        with self.sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                # One replica at a time per event; the others then see its rows and find nothing to do.
                session.execute(select(func.pg_advisory_xact_lock(func.hashtext(event.id))))
            row = session.get(EventRow, event.id)
            if row is not None:  # links set at go-live, and recordings, stay whatever the file says
                event = with_overlays(event, row.live_links, row.recording_links)
            digest = content_hash(event)
            new_data = event.model_dump(mode="json")
            recorded = row is not None and (row.data.get("recording") or {}) != new_data["recording"]
            correct = False
            notice = False
            if row is None:
                outcome = "created"
                row = EventRow(id=event.id, created_at=now)
                session.add(row)
            elif row.origin == EventOrigin.DASHBOARD.value and origin is EventOrigin.FILE:
                return SyncResult(event_id=event.id, outcome="ignored")
            else:
                restored = row.withdrawn is not None
                outcome = "restored" if restored else (
                    "updated" if row.content_hash != digest or row.source != source else "unchanged")
                was_active = row.status == EventStatus.SCHEDULED.value and not restored
                notice = notify_changes and was_active and (not active or row.start_at != event.start)
                # What a published post says that may have changed: it is corrected where it went out.
                said = ("start", "end", "venue", "live", "url", "status")
                correct = notify_changes and was_active and any(row.data.get(key) != new_data.get(key)
                                                                 for key in said)
            if outcome != "unchanged" and row.content_hash and row.content_hash != digest:
                # What was approved is not what would go out now: ask the approvers again.
                session.execute(
                    update(PlannedPostRow)
                    .where(PlannedPostRow.event_id == event.id, PlannedPostRow.approval == Approval.APPROVED.value,
                           PlannedPostRow.state.in_(values_of(UNSENT | {_S.AWAITING_APPROVAL})))
                    .values(approval=Approval.PENDING.value, approved_by=None, approved_at=None,
                            approval_asked_at=None)
                    .execution_options(synchronize_session=False)
                )
            if planned_with is not None and row.planned_with != planned_with:
                row.planned_with = planned_with
            if outcome != "unchanged":
                row.content_hash = digest
                row.data = event.model_dump(mode="json")
                row.source = source
                row.origin = origin.value
                row.withdrawn = None
                row.status = event.status.value
                row.start_at = event.start
                row.end_at = event.end
                row.updated_at = now
            existing = {
                (post.step_id, post.target): post
                for post in session.scalars(select(PlannedPostRow).where(PlannedPostRow.event_id == event.id))
            }
            for item in items:
                state, reason = desired(item, active, event)
                post = existing.pop(item.key, None)
                if post is None:
                    late = item.late if item.late is not None or item.due_at >= now - FIRST_SEEN_GRACE else Late(
                        send=False, reason=f"already past when first planned ({item.due_at:%Y-%m-%d %H:%M} UTC): "
                                           "not sent late; `announce-bot retry` sends it")
                    if skip_past and late is not None and state is not _S.CANCELLED:
                        if not late.send:
                            state, reason = _S.SKIPPED, late.reason
                            past += 1
                        elif state is _S.PLANNED:
                            reason = late.reason
                    post = new_post(item, state, reason)
                    session.add(post)
                    planned += 1
                    held += state is _S.WAITING
                elif PostState(post.state) in REPLANNABLE:
                    was, due = post.state, post.due_at
                    if update_post(post, item, state, reason):
                        replanned += 1
                        stopped += post.state == _S.CANCELLED.value != was
                        moved += post.due_at != due
                if item.rendered_for is not None and PostState(post.state) in REPLANNABLE | {_S.SKIPPED}:
                    keep_rendering(post, item)
            for post in existing.values():
                if post.kind != PostKind.CHANGED and not post.manual and post.edits is None and \
                        PostState(post.state) in UNSENT:
                    post.state, post.reason = _S.CANCELLED.value, "no longer in the campaign"
                    cancelled += 1
            notice_step, noticed = None, list[str]()
            if notice or correct:
                notice_step, added, noticed = plan_notices(session, event, now, notice=notice)
                planned += added
            if recorded:  # a recording added after the summary went out: the summary is edited to carry it
                planned += plan_summary_edits(session, event, now)
        if outcome == "unchanged" and (planned or replanned or cancelled):
            outcome = "updated"
        return SyncResult(event_id=event.id, outcome=outcome, planned=planned, replanned=replanned,
                          cancelled=cancelled, past=past, held=held, notice=notice_step if notice else None,
                          stopped=stopped, moved=moved, notices=tuple(sorted(noticed)) if notice else ())

    def withdraw(self, event_id: str, reason: str, now: datetime) -> int | None:
        """Withdraw a live event: none of its unsent posts go out. Returns how many were cancelled, None if it
        was already withdrawn (or is not stored), so that the organiser is told once."""
        with self.sessions.begin() as session:
            row = session.get(EventRow, event_id)
            if row is None or row.withdrawn is not None:
                return None
            # The status column is the stored event's effective status: a withdrawn event is out of every
            # "scheduled" query (the chat bot's, the reminders') without another condition or index.
            row.withdrawn, row.status, row.updated_at = reason, WITHDRAWN, now
            result = session.execute(
                update(PlannedPostRow)
                .where(PlannedPostRow.event_id == event_id, PlannedPostRow.state.in_(values_of(UNSENT)))
                .values(state=_S.CANCELLED.value, reason=WITHDRAWN_PREFIX + reason, next_attempt_at=None,
                        updated_at=now)
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def set_live(self, event_id: str, links: dict[str, str], now: datetime) -> StoredEvent | None:
        """Lay stream links over the event's own (go-live); None if there is no such event. Setting the same
        links again changes nothing."""
        with self.sessions.begin() as session:
            row = session.get(EventRow, event_id, with_for_update=True)
            if row is None:
                return None
            overlay = {**(row.live_links or {}), **links}
            data = {**row.data, "live": {**row.data.get("live", {}), **overlay}}
            event = Event.model_validate(data, context=STORED)
            digest = content_hash(event)
            if digest != row.content_hash or overlay != row.live_links:
                row.live_links, row.data, row.content_hash, row.updated_at = overlay, event.model_dump(mode="json"), \
                    digest, now
            return self._event(row)

    def set_recording(self, event_id: str, links: dict[str, str]) -> StoredEvent | None:
        """Lay recording links over the event's own; None if there is no such event. The event itself changes at
        the next `sync_event` of it (which plans what the recording brings: a summary waiting for it, or the edit
        of one that went out)."""
        with self.sessions.begin() as session:
            row = session.get(EventRow, event_id, with_for_update=True)
            if row is None:
                return None
            overlay = {**(row.recording_links or {}), **links}
            if overlay != row.recording_links:
                row.recording_links = overlay
            return self._event(row)

    def set_origin(self, event_id: str, origin: EventOrigin, source: str) -> bool:
        """Move an event to another source of truth (a file's event taken over in the dashboard)."""
        with self.sessions.begin() as session:
            row = session.get(EventRow, event_id)
            if row is None:
                return False
            row.origin, row.source = origin.value, source
            return True

    def public_events(self) -> list[Event]:
        """The public events (neither withdrawn nor drafts), by start: what the pages, feeds and chat bot show."""
        return [stored.event for stored in self.records() if stored.public]

    def event(self, event_id: str) -> Event | None:
        """A public event, or None (unknown, withdrawn or a draft)."""
        cached = self._parsed.get(event_id)
        if cached is not None:  # the row's version first: its JSON is read and parsed only when it changed
            with self.engine.connect() as connection:
                version = connection.execute(select(EventRow.content_hash, EventRow.withdrawn)
                                             .where(EventRow.id == event_id)).first()
            if version is None:
                return None
            if version[0] == cached[0]:
                return cached[1] if version[1] is None and cached[1].status.public else None
        stored = self.record(event_id)
        return stored.event if stored is not None and stored.public else None

    def records(self) -> list[StoredEvent]:
        """Every stored event, withdrawn ones included, with where it comes from."""
        with self.sessions() as session:
            rows = session.scalars(select(EventRow).order_by(EventRow.start_at, EventRow.id)).all()
            return [self._event(row) for row in rows]

    def records_of(self, event_ids: Iterable[str]) -> dict[str, StoredEvent]:
        """Several stored events at once, by id."""
        with self.sessions() as session:
            rows = session.scalars(select(EventRow).where(EventRow.id.in_(list(event_ids))))
            return {row.id: self._event(row) for row in rows}

    def record(self, event_id: str) -> StoredEvent | None:
        """One stored event. Its JSON is read and parsed once per version: asked for every post the scheduler
        sends, the usual answer comes from the version alone."""
        with self.sessions() as session:
            light = session.connection().execute(_LIGHT, {"b_id": event_id}).first()
            if light is None:
                return None
            cached = self._parsed.get(event_id)
            if cached is None or cached[0] != light.content_hash:
                row = session.get(EventRow, event_id)
                return self._event(row) if row else None
            return StoredEvent(event=cached[1], origin=EventOrigin(light.origin or EventOrigin.FILE),
                               source=light.source or "", version=light.content_hash, withdrawn=light.withdrawn,
                               created_at=light.created_at, updated_at=light.updated_at)

    def sources(self) -> dict[str, tuple[EventOrigin, str, bool]]:
        """Every stored event's (origin, source file, withdrawn), without parsing any event."""
        return {id_: (mark.origin, mark.source, mark.withdrawn) for id_, mark in self.marks().items()}

    def marks(self) -> dict[str, EventMark]:
        """Every stored event's bookkeeping (see EventMark), without parsing any event."""
        with self.sessions() as session:
            rows = session.execute(select(EventRow.id, EventRow.origin, EventRow.source, EventRow.withdrawn,
                                          EventRow.content_hash, EventRow.updated_at, EventRow.planned_with,
                                          EventRow.live_links, EventRow.recording_links, EventRow.start_at,
                                          EventRow.status))
            return {id_: EventMark(origin=EventOrigin(origin or EventOrigin.FILE), source=source or "",
                                   withdrawn=withdrawn is not None, version=digest, planned_with=planned_with,
                                   live_links=tuple(sorted((links or {}).items())),
                                   recording_links=tuple(sorted((recordings or {}).items())), start=start,
                                   status=status, mark=(origin, source, withdrawn, digest, updated))
                    for id_, origin, source, withdrawn, digest, updated, planned_with, links, recordings, start, status
                    in rows}

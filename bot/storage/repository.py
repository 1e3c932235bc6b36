"""Events, planned posts and the delivery log in the database; hands out frozen values, never ORM rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker, undefer

from bot.domain import (
    CLAIMABLE,
    COMMANDS,
    STORED,
    Approval,
    CatchUp,
    Command,
    Delivery,
    Event,
    EventOrigin,
    EventStatus,
    PlannedPost,
    Platform,
    PostKind,
    PostState,
    Rendering,
    StoredEvent,
    content_hash,
    sources,
    with_overlays,
)
from bot.planning import FIRST_SEEN_GRACE, Late, PlanItem
from bot.storage.hotpath import WITHDRAWN, HotPath, Settle, Settlement, Start
from bot.storage.tables import DeliveryRow, EventRow, PlannedPostRow, utcnow

_S = PostState
# States an import may still change: nothing of them has been sent, nobody decided about them by hand.
_REPLANNABLE = frozenset({_S.PLANNED, _S.WAITING, _S.CANCELLED, _S.AWAITING_APPROVAL})
# What withdrawing an event (or removing a step from the campaign) cancels: whatever has not gone out yet.
_UNSENT = frozenset({_S.PLANNED, _S.WAITING, _S.RETRYING, _S.AWAITING_APPROVAL})
WITHDRAWN_PREFIX = "withdrawn: "


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


def _values(states: Iterable[PostState]) -> list[str]:
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


class Store:
    """Events and their planned posts as the rest of the bot sees them. Each method is one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._parsed: dict[str, tuple[str, Event]] = {}  # id -> (content hash, event): parsed once per version

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
                           PlannedPostRow.state.in_(_values(_UNSENT | {_S.AWAITING_APPROVAL})))
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
                state, reason = _desired(item, active, event)
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
                    post = _new_post(item, state, reason)
                    session.add(post)
                    planned += 1
                    held += state is _S.WAITING
                elif PostState(post.state) in _REPLANNABLE:
                    was, due = post.state, post.due_at
                    if _update(post, item, state, reason):
                        replanned += 1
                        stopped += post.state == _S.CANCELLED.value != was
                        moved += post.due_at != due
                if item.rendered_for is not None and PostState(post.state) in _REPLANNABLE | {_S.SKIPPED}:
                    _keep_rendering(post, item)
            for post in existing.values():
                if post.kind != PostKind.CHANGED and not post.manual and post.edits is None and \
                        PostState(post.state) in _UNSENT:
                    post.state, post.reason = _S.CANCELLED.value, "no longer in the campaign"
                    cancelled += 1
            notice_step, noticed = None, list[str]()
            if notice or correct:
                notice_step, added, noticed = _plan_notices(session, event, now, notice=notice)
                planned += added
            if recorded:  # a recording added after the summary went out: the summary is edited to carry it
                planned += _plan_summary_edits(session, event, now)
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
                .where(PlannedPostRow.event_id == event_id, PlannedPostRow.state.in_(_values(_UNSENT)))
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

    def events(self) -> list[Event]:
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

    # -- planned posts and the delivery log ----------------------------------------------------------

    def posts(self, event_id: str | None = None, *, text: bool = False) -> list[PlannedPost]:
        """The planned posts (of one event), by due time; with `text`, each with its rendering."""
        with self.sessions() as session:
            query = select(PlannedPostRow).order_by(PlannedPostRow.due_at, PlannedPostRow.step_id,
                                                    PlannedPostRow.target)
            if text:
                query = query.options(_TEXT)
            if event_id is not None:
                query = query.where(PlannedPostRow.event_id == event_id)
            return [planned_post(row) for row in session.scalars(query)]

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


def _plan_notices(session: Session, event: Event, now: datetime, *, notice: bool) -> tuple[str, int, list[str]]:
    """After a change: each published announcement corrected where it went out (a post of its own that edits it,
    due now), and with `notice` (a new time, a cancellation) a `changed` notice on every target that carried the
    announcement. X cannot edit: its correction is the notice, as a reply in the thread, so it gets no other.
    A notice or correction of an earlier change that has not gone out yet is cancelled: the new ones say how
    things stand now. Returns the notices' step id, how many posts were planned and the targets of the notices."""
    rows = session.scalars(select(PlannedPostRow).where(PlannedPostRow.event_id == event.id)).all()
    announced = [p for p in rows if p.kind == PostKind.ANNOUNCEMENT.value and p.state == _S.SENT.value
                 and p.edits is None and not p.manual]
    for pending in rows:
        superseded = pending.kind == PostKind.CHANGED.value or pending.edits is not None
        if superseded and PostState(pending.state) in _UNSENT:
            pending.state, pending.reason = _S.CANCELLED.value, "superseded by a later change"
    taken = {p.step_id for p in rows}
    stamp = base = f"{now:%Y%m%dt%H%M%S}"
    number = 1
    while f"changed-{stamp}" in taken or f"edit-{stamp}" in taken:  # two changes within one second
        number += 1
        stamp = f"{base}-{number}"
    reason = (f"the event is {event.status.value}" if event.status is not EventStatus.SCHEDULED
              else "the event changed")
    added = 0
    noticed: list[str] = []
    for post in announced:
        if post.platform == Platform.X.value and not notice:
            continue  # X's correction is the notice as a reply: nothing to say for a new venue or link alone
        session.add(PlannedPostRow(
            event_id=event.id, step_id=f"edit-{stamp}", kind=post.kind, target=post.target, platform=post.platform,
            lang=post.lang, catch_up=CatchUp.BEFORE_END.value, due_at=now, state=_S.PLANNED.value,
            reason=f"corrects #{post.id}: {reason}", attempts=0, parts=[], edits=post.id))
        added += 1
        if notice and post.platform != Platform.X.value:
            session.add(PlannedPostRow(
                event_id=event.id, step_id=f"changed-{stamp}", kind=PostKind.CHANGED.value, target=post.target,
                platform=post.platform, lang=post.lang, catch_up=CatchUp.BEFORE_END.value, due_at=now,
                state=_S.PLANNED.value, reason=reason if reason != "the event changed" else "the start time changed",
                attempts=0, parts=[]))
            added += 1
            noticed.append(post.target)
        elif notice:
            noticed.append(post.target)  # X: the notice is the correction, a reply in the thread
    return f"changed-{stamp}", added, noticed


def _plan_summary_edits(session: Session, event: Event, now: datetime) -> int:
    """Each published summary edited to carry the recording (a post of its own that edits it, due now; where the
    platform cannot edit, the recording's line goes as a reply or a comment). Returns how many were planned."""
    rows = session.scalars(select(PlannedPostRow).where(PlannedPostRow.event_id == event.id)).all()
    sent = [p for p in rows if p.kind == PostKind.SUMMARY.value and p.state == _S.SENT.value and p.edits is None]
    for pending in rows:  # an edit for an earlier recording that has not gone out yet: this one says it all
        if pending.step_id.startswith("recording-") and PostState(pending.state) in _UNSENT:
            pending.state, pending.reason = _S.CANCELLED.value, "superseded by a later recording"
    taken = {p.step_id for p in rows}
    step = base = f"recording-{now:%Y%m%dt%H%M%S}"
    number = 1
    while step in taken:
        number += 1
        step = f"{base}-{number}"
    for post in sent:
        session.add(PlannedPostRow(
            event_id=event.id, step_id=step, kind=post.kind, target=post.target, platform=post.platform,
            lang=post.lang, catch_up=CatchUp.ALWAYS.value, due_at=now, state=_S.PLANNED.value,
            reason=f"corrects #{post.id}: the recording was added", attempts=0, parts=[], edits=post.id))
    return len(sent)


def _desired(item: PlanItem, active: bool, event: Event) -> tuple[PostState, str | None]:
    if event.status is EventStatus.DRAFT:
        return _S.WAITING, "a draft: nothing goes out until its status is scheduled"
    if not active:
        return _S.CANCELLED, f"the event is {event.status.value}"
    if item.waiting:
        return _S.WAITING, item.waiting
    return _S.PLANNED, None


def _keep_rendering(post: PlannedPostRow, item: PlanItem) -> None:
    text = item.rendered.model_dump_json() if item.rendered is not None else None
    if post.rendered_for != item.rendered_for or post.render_error != item.render_error:
        post.rendered, post.render_error, post.rendered_for = text, item.render_error, item.rendered_for


def _new_post(item: PlanItem, state: PostState, reason: str | None) -> PlannedPostRow:
    return PlannedPostRow(
        event_id=item.event_id, step_id=item.step_id, kind=item.kind.value, target=item.target,
        platform=item.platform.value, lang=item.lang, catch_up=item.catch_up.value, due_at=item.due_at,
        state=state.value, reason=reason, attempts=0, parts=[],
        approval=(Approval.PENDING if item.approval else Approval.NONE).value,
    )


def _update(post: PlannedPostRow, item: PlanItem, state: PostState, reason: str | None) -> bool:
    wanted: dict[str, object] = {
        "kind": item.kind.value,
        "platform": item.platform.value,
        "lang": item.lang,
        "catch_up": item.catch_up.value,
        "due_at": item.due_at,
        "state": state.value,
        "reason": reason,
    }
    if not item.approval:
        wanted["approval"] = Approval.NONE.value
    elif post.approval == Approval.NONE.value:  # the step asks for approval from now on
        wanted["approval"] = Approval.PENDING.value
    elif post.state == _S.AWAITING_APPROVAL.value and state is _S.PLANNED and post.due_at == item.due_at:
        # Due and waiting for its approver (the dispatcher put it there): the same plan leaves it there. Else
        # every re-read of the files put it back to planned, and the dispatcher moved it again.
        wanted["state"], wanted["reason"] = post.state, post.reason
    changed = {key: value for key, value in wanted.items() if getattr(post, key) != value}
    for key, value in changed.items():
        setattr(post, key, value)
    return bool(changed)


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
                    PlannedPostRow.state.in_(_values(CLAIMABLE)),
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
                .where(PlannedPostRow.id.in_(due.scalar_subquery()), PlannedPostRow.state.in_(_values(CLAIMABLE)))
                .values(state=_S.CLAIMED.value, claimed_by=worker, claimed_at=now,
                        attempts=PlannedPostRow.attempts + 1, updated_at=now)
                .returning(PlannedPostRow)
                .options(_TEXT)
                .execution_options(synchronize_session=False)
            ).all()
            return sorted((planned_post(row) for row in claimed), key=lambda post: (post.due_at, post.id))

    def claim(self, post_id: int, now: datetime, worker: str) -> PlannedPost | None:
        """Claim one planned or retrying post whatever its due time (the organiser's "publish now"); None if not."""
        with self.sessions.begin() as session:
            row = session.scalars(
                update(PlannedPostRow)
                .where(PlannedPostRow.id == post_id, PlannedPostRow.state.in_(_values(CLAIMABLE)),
                       PlannedPostRow.approval != Approval.PENDING.value)
                .values(state=_S.CLAIMED.value, claimed_by=worker, claimed_at=now,
                        attempts=PlannedPostRow.attempts + 1, updated_at=now)
                .returning(PlannedPostRow)
                .options(_TEXT)
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
            found = [_parse_utc(value) for value in (planned, retry) if value is not None]
            return min(found) if found else None


_TEXT = undefer(PlannedPostRow.rendered)  # the deferred text of a post, where it is needed
_LIGHT = select(EventRow.content_hash, EventRow.origin, EventRow.source, EventRow.withdrawn, EventRow.created_at,
                EventRow.updated_at).where(EventRow.id == bindparam("b_id"))
def _parse_utc(value: object) -> datetime:
    # SQLite returns an aggregate over a custom type as its raw stored text.
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

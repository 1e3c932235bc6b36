"""An event's planned posts brought in line with its plan: new posts (and steps already past when first planned),
re-planned ones, the renderings kept with them, and after a change the corrections and notices where it was
announced."""


from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import (
    Approval,
    CatchUp,
    Event,
    EventStatus,
    Platform,
    PostKind,
    PostState,
)
from bot.planning import PlanItem
from bot.storage.tables import PlannedPostRow
from bot.storage.values import (
    UNSENT,
)

_S = PostState


def plan_notices(session: Session, event: Event, now: datetime, *, notice: bool) -> tuple[str, int, list[str]]:
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
        if superseded and PostState(pending.state) in UNSENT:
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


def plan_summary_edits(session: Session, event: Event, now: datetime) -> int:
    """Each published summary edited to carry the recording (a post of its own that edits it, due now; where the
    platform cannot edit, the recording's line goes as a reply or a comment). Returns how many were planned."""
    rows = session.scalars(select(PlannedPostRow).where(PlannedPostRow.event_id == event.id)).all()
    sent = [p for p in rows if p.kind == PostKind.SUMMARY.value and p.state == _S.SENT.value and p.edits is None]
    for pending in rows:  # an edit for an earlier recording that has not gone out yet: this one says it all
        if pending.step_id.startswith("recording-") and PostState(pending.state) in UNSENT:
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


def desired(item: PlanItem, active: bool, event: Event) -> tuple[PostState, str | None]:
    if event.status is EventStatus.DRAFT:
        return _S.WAITING, "a draft: nothing goes out until its status is scheduled"
    if not active:
        return _S.CANCELLED, f"the event is {event.status.value}"
    if item.waiting:
        return _S.WAITING, item.waiting
    return _S.PLANNED, None


def keep_rendering(post: PlannedPostRow, item: PlanItem) -> None:
    text = item.rendered.model_dump_json() if item.rendered is not None else None
    if post.rendered_for != item.rendered_for or post.render_error != item.render_error:
        post.rendered, post.render_error, post.rendered_for = text, item.render_error, item.rendered_for


def new_post(item: PlanItem, state: PostState, reason: str | None) -> PlannedPostRow:
    return PlannedPostRow(
        event_id=item.event_id, step_id=item.step_id, kind=item.kind.value, target=item.target,
        platform=item.platform.value, lang=item.lang, catch_up=item.catch_up.value, due_at=item.due_at,
        state=state.value, reason=reason, attempts=0, parts=[],
        approval=(Approval.PENDING if item.approval else Approval.NONE).value,
    )


def update_post(post: PlannedPostRow, item: PlanItem, state: PostState, reason: str | None) -> bool:
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

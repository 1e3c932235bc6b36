"""Turns an event and the campaign into the list of posts to send: what, where, in which language, when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.domain import Campaign, CatchUp, Event, Platform, PostKind, Step
from bot.rendering.renderer import Destination


@dataclass(frozen=True, kw_only=True)
class PlanItem:
    """One post of one event for one target. `waiting` says why it cannot go out yet, if so."""

    event_id: str
    step_id: str
    kind: PostKind
    target: str
    platform: Platform
    lang: str
    due_at: datetime  # UTC
    catch_up: CatchUp
    waiting: str | None = None
    approval: bool = False  # an approver must sign it off before it goes out

    @property
    def key(self) -> tuple[str, str]:
        return self.step_id, self.target

    @property
    def destination(self) -> Destination:
        return Destination(target=self.target, platform=self.platform, lang=self.lang)


@dataclass(frozen=True, kw_only=True)
class TargetInfo:
    name: str
    platform: Platform
    lang: str


def before_start(step: Step, event: Event) -> timedelta | None:
    """How long before the start a step's post goes out; what a reminder says ("in 1 hour")."""
    delta = event.start - step.due(event)
    return delta if delta > timedelta() else None


def plan(event: Event, campaign: Campaign, targets: list[TargetInfo]) -> list[PlanItem]:
    """Every post the campaign asks for this event, ordered by due time. Pure: no clock, no I/O."""
    items = []
    for step in campaign.steps:
        if step.kind is PostKind.CHANGED:
            continue  # sent on a change of the event, not at a planned time
        if step.unplanned(event):
            continue  # timed from a date the event does not give (`unplanned_steps` says which, for plan/validate)
        for target in targets:
            if target.platform not in campaign.platforms_of(step):
                continue
            waiting = step.waiting_for(event)
            if waiting is None and step.kind is PostKind.LIVE and not event.live:
                # "We are live" without a stream is no use: the post waits for go-live to give the link.
                waiting = "no stream link yet: going live sets it"
            items.append(
                PlanItem(
                    event_id=event.id,
                    step_id=step.id,
                    kind=step.kind,
                    target=target.name,
                    platform=target.platform,
                    lang=target.lang,
                    due_at=step.due(event).astimezone(UTC),
                    catch_up=step.catch_up,
                    waiting=waiting,
                    approval=step.approval == "required",
                )
            )
    return sorted(items, key=lambda item: (item.due_at, item.step_id, item.target))


def unplanned_steps(event: Event, campaign: Campaign) -> list[str]:
    """Why campaign steps plan nothing for `event` (timed from an accreditation deadline it does not give)."""
    return [reason for step in campaign.steps if (reason := step.unplanned(event))]


def still_useful(catch_up: CatchUp, event_start: datetime, event_end: datetime, now: datetime) -> str | None:
    """None if a due post is still worth sending at `now`; otherwise why it is skipped."""
    if catch_up is CatchUp.BEFORE_START and now >= event_start:
        return "the event had already started"
    if catch_up in (CatchUp.WHILE_RUNNING, CatchUp.BEFORE_END) and now >= event_end:
        return "the event had already ended"
    return None


def deadline(catch_up: CatchUp, event_start: datetime, event_end: datetime) -> datetime | None:
    """The last moment a post of this policy is worth sending; None when it never expires."""
    if catch_up is CatchUp.BEFORE_START:
        return event_start
    if catch_up in (CatchUp.WHILE_RUNNING, CatchUp.BEFORE_END):
        return event_end
    return None


def rehearsal(event: Event, campaign: Campaign, now: datetime, gap: timedelta = timedelta(seconds=5)) -> tuple[
    Event, Campaign
]:
    """The event and its campaign compressed into well under a minute, starting `gap` from `now`.

    Posts keep the campaign's order, `gap` apart; the event lasts two gaps. For `run --demo`: it shows
    on a fresh machine what the real campaign does over weeks.
    """
    planned = [step for step in campaign.steps if step.kind is not PostKind.CHANGED]
    before = sorted((s for s in planned if s.anchor == "start" and s.offset < timedelta()), key=lambda s: s.offset)
    at_start = [s for s in planned if s.anchor == "start" and s.offset >= timedelta()]
    after = sorted((s for s in planned if s.anchor == "end"), key=lambda s: s.offset)
    seconds = int(gap.total_seconds())
    steps = [s.model_copy(update={"at": f"start - {seconds * (len(before) - i)}s"}) for i, s in enumerate(before)]
    steps += [s.model_copy(update={"at": "start"}) for s in at_start]
    steps += [s.model_copy(update={"at": f"end + {seconds * (i + 1)}s"}) for i, s in enumerate(after)]
    start = now + gap * (len(before) + 1)
    moved = event.model_copy(update={"id": f"{event.id}-rehearsal"[:80], "start": start, "end": start + 2 * gap})
    return moved, campaign.model_copy(update={"steps": tuple(steps)})

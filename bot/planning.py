"""Turns an event and the campaign into the list of posts to send: what, where, in which language, when."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.domain import Campaign, CatchUp, Event, Platform, PostKind, RenderedPost, Step
from bot.rendering.renderer import Destination

# A post due a few minutes before its event was first seen is still "now" (an event added just in time, a bot
# that took a while to start); one due longer ago than this was owed before anyone could have sent it.
FIRST_SEEN_GRACE = timedelta(minutes=15)


@dataclass(frozen=True, kw_only=True)
class Late:
    """What happens to a post whose time had already passed when it was first planned: it goes out now, or it is
    skipped, and why (the organiser is told when the event is saved)."""

    send: bool
    reason: str


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
    late: Late | None = None  # its time had passed when it was planned (see `first_sight`)
    # The post as it will go out, rendered when the plan was made from the inputs `rendered_for` names (the
    # event's version and the configuration's), or why it cannot be; None for `rendered_for`: not rendered now.
    rendered: RenderedPost | None = None
    render_error: str | None = None
    rendered_for: str | None = None

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


def plan(event: Event, campaign: Campaign, targets: list[TargetInfo], now: datetime | None = None) -> list[PlanItem]:
    """Every post the campaign asks for this event, ordered by due time; with `now`, what happens to those whose
    time has passed if they are planned for the first time (`first_sight`). Pure: no clock, no I/O."""
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
    items = sorted(items, key=lambda item: (item.due_at, item.step_id, item.target))
    return first_sight(items, event, campaign, now) if now is not None else items


def first_sight(items: list[PlanItem], event: Event, campaign: Campaign, now: datetime) -> list[PlanItem]:
    """Decide, for each post whose time passed more than FIRST_SEEN_GRACE ago, what happens if it is planned for
    the first time, as its step's `catch_up` says. An event that is over sends nothing. Otherwise an overdue
    announcement (or live post, or summary) goes out once, now; a reminder is superseded by the next reminder
    still to come, else by a later one also past, else by the announcement going out now; the latest one, with
    none of these, goes out now saying the time really left. Steps still ahead keep their times."""
    cutoff = now - FIRST_SEEN_GRACE
    steps = {step.id: step for step in campaign.steps}
    decided: list[PlanItem] = []
    for item in items:
        if item.due_at >= cutoff:
            decided.append(item)
            continue
        passed = f"its time, {step_time(steps[item.step_id])}, has passed"
        if now >= event.end:
            late = Late(send=False, reason=f"the event was over when it was first planned ({passed})")
        elif reason := still_useful(item.catch_up, event.start, event.end, now):
            late = Late(send=False, reason=f"{reason} when it was first planned ({passed})")
        elif item.kind is PostKind.REMINDER and (later := _superseding(item, items, cutoff)):
            late = Late(send=False, reason=f"superseded by {later} ({passed})")
        else:
            late = Late(send=True, reason=f"goes out now: {passed}")
        decided.append(replace(item, late=late))
    return decided


def _superseding(reminder: PlanItem, items: list[PlanItem], cutoff: datetime) -> str | None:
    """What says the time left instead of a reminder whose moment passed before it was planned: the next reminder
    on its target (still to come, or also past but later), or the announcement going out now."""
    later = [i for i in items if i.target == reminder.target and i.kind is PostKind.REMINDER
             and i.due_at > reminder.due_at]
    if later:
        return later[0].step_id if later[0].due_at >= cutoff else later[-1].step_id
    announced = [i for i in items if i.target == reminder.target and i.kind is PostKind.ANNOUNCEMENT
                 and i.due_at < cutoff and i.waiting is None]
    return f"the {announced[0].step_id}, going out now" if announced else None


def step_time(step: Step) -> str:
    """When a step is, in words: '7 days before the start', 'at the start', '3 hours after the end'."""
    amount = abs(step.offset)
    if not amount:
        return f"at the {step.anchor}"
    words = []
    days, rest = amount.days, amount.seconds
    for count, unit in ((days, "day"), (rest // 3600, "hour"), (rest % 3600 // 60, "minute"), (rest % 60, "second")):
        if count:
            words.append(f"{count} {unit}{'s' if count > 1 else ''}")
    side = "before" if step.offset < timedelta() else "after"
    return f"{' '.join(words)} {side} the {step.anchor}"


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

"""Turns an event and the campaign into the list of posts to send: what, where, in which language, when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.domain import Campaign, CatchUp, Event, EventStatus, Platform, PostKind, Step
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
        for target in targets:
            if target.platform not in campaign.platforms_of(step):
                continue
            waiting = "no report yet" if step.requires_report and not event.report else None
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
                )
            )
    return sorted(items, key=lambda item: (item.due_at, item.step_id, item.target))


def is_active(event: Event) -> bool:
    return event.status is EventStatus.SCHEDULED


def still_useful(catch_up: CatchUp, event_start: datetime, event_end: datetime, now: datetime) -> str | None:
    """None if a due post is still worth sending at `now`; otherwise why it is skipped."""
    if catch_up is CatchUp.BEFORE_START and now >= event_start:
        return "the event had already started"
    if catch_up is CatchUp.WHILE_RUNNING and now >= event_end:
        return "the event had already ended"
    return None

"""The plan as it will go out, made when an event is saved: every post rendered and fitted for its target, what
happens to the steps already past, and what the organiser is told then (errors refuse the save; warnings and
notes do not), the same for the dashboard, the event files and the CLI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.config import AppConfig
from bot.delivery import fingerprint, inputs, reads_alike, render_post
from bot.domain import Event, EventStatus
from bot.errors import ConfigError, FitError
from bot.planning import FIRST_SEEN_GRACE, PlanItem, TargetInfo, plan
from bot.rendering.checks import event_warnings, mixed_language
from bot.rendering.renderer import Renderer

# What a post too long for its platform is most likely made long by: the first of these the event has.
_LONG_FIELDS = ("description", "report", "lead", "topic", "title", "accreditation.text")


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One thing to tell the organiser about one field of the event (`event` for the event as a whole)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """An event's plan with every post rendered, and what the organiser is told: `errors` refuse the save (nothing
    of it is stored), `warnings` are worth a look, `notes` say what will happen ("the announcement goes out now")."""

    event: Event
    items: tuple[PlanItem, ...]
    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    planned_with: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors

    def by_field(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for problem in self.errors:
            found.setdefault(problem.field, []).append(problem.message)
        return found


def targets(config: AppConfig) -> list[TargetInfo]:
    """The enabled targets, as planning sees them."""
    return [TargetInfo(name=name, platform=target.platform, lang=target.lang)
            for name, target in config.settings.targets.items() if target.enabled]


@dataclass(frozen=True, kw_only=True)
class Saved:
    """The event as stored before this save: a start that has passed is refused only when it is being set (an
    event whose start passed with time stays as it is)."""

    start: datetime
    status: str


def prepare(event: Event, config: AppConfig, renderer: Renderer, now: datetime, *, saved: Saved | None = None,
            render: bool = True, every: bool = False) -> Prepared:
    """Plan `event` as of `now`, render every post that will go out (`render`; with `every`, every post of the
    campaign, whether it will go out or not: `validate` checks the templates against any event), and check it
    all; `saved` is the event as stored before (None: a new event)."""
    items = plan(event, config.campaign, targets(config), now)
    errors = _time_errors(event, now, saved)
    langs = {target.lang for target in config.settings.targets.values() if target.enabled}
    warnings = [Problem(field=w.field, message=w.message) for w in event_warnings(
        event, campaign=config.campaign, now=now, langs=langs)]
    errors += [w for w in warnings if w.message.startswith(_REQUIRED_TEXT_MISSING) and w.field in _REQUIRED]
    warnings = [w for w in warnings if w not in errors]
    made_with = fingerprint(config)
    if render:
        items = _rendered(items, event, config, renderer, now, every=every)
        errors += _fit_errors(items, event)
        warnings += _mixed(items, event)
    notes = _notes(items, event, now) if event.status is EventStatus.SCHEDULED else []
    return Prepared(event=event, items=tuple(items), errors=tuple(dict.fromkeys(errors)),
                    warnings=tuple(dict.fromkeys(warnings)), notes=tuple(notes), planned_with=made_with)


# "no 'ru' text: the Russian posts would show …" (bot.rendering.checks): for what every post shows, an error.
_REQUIRED_TEXT_MISSING = "no '"
_REQUIRED = frozenset({"title", "organiser", "topic", "venue.name", "venue.address"})


def _time_errors(event: Event, now: datetime, saved: Saved | None) -> list[Problem]:
    if event.past or event.status is not EventStatus.SCHEDULED or event.start >= now - FIRST_SEEN_GRACE:
        return []
    if saved is not None and saved.start == event.start and saved.status == EventStatus.SCHEDULED.value:
        return []  # it started since it was saved: nothing to refuse
    local = event.start.strftime("%Y-%m-%d %H:%M")
    return [Problem(field="start", message=(
        f"{local} ({event.timezone}) has passed: none of its posts before the start could go out. Give a future "
        "start, or to record a past event, tick “record a past event” (past: true in its file)"))]


def _rendered(items: list[PlanItem], event: Event, config: AppConfig, renderer: Renderer, now: datetime, *,
              every: bool) -> list[PlanItem]:
    """Each item that will go out (`every`: each item), rendered for its target; targets that read alike share
    one rendering."""
    steps = {step.id: step for step in config.campaign.steps}
    made = inputs(event, config, now)
    done: dict[tuple[object, ...], tuple[Any, str | None]] = {}
    out = []
    for item in items:
        idle = item.waiting is not None or (item.late is not None and not item.late.send) or \
            event.status is not EventStatus.SCHEDULED
        if (idle and not every) or item.target not in config.settings.targets:
            out.append(item)
            continue
        key = (item.step_id, *reads_alike(config, item.target))
        if key not in done:
            try:
                done[key] = (render_post(config, renderer, event, item.kind, item.target, steps.get(item.step_id),
                                         now=now), None)
            except (ConfigError, FitError) as exc:
                done[key] = (None, str(exc))
        post, error = done[key]
        if post is not None and post.target != item.target:
            post = post.model_copy(update={"target": item.target})
        out.append(replace(item, rendered=post, render_error=error, rendered_for=made))
    return out


def _mixed(items: Iterable[PlanItem], event: Event) -> list[Problem]:
    """A post mostly in the other language than its target's, one post per language (the texts are the same)."""
    found: list[Problem] = []
    seen: set[str] = set()
    for item in items:
        if item.rendered is not None and item.lang not in seen:
            seen.add(item.lang)
            found += [Problem(field=w.field, message=w.message) for w in mixed_language(item.rendered, event)]
    return found


def _fit_errors(items: Iterable[PlanItem], event: Event) -> list[Problem]:
    """Posts that could never go out, each named once, at the field most likely to make it so."""
    found: dict[str, list[str]] = {}
    for item in items:
        if item.render_error is not None:
            found.setdefault(item.render_error, []).append(f"{item.step_id} on {item.target}")
    return [Problem(field=_longest_field(event) if "parts of at most" in error or "takes one part" in error
                    else "event", message=f"{', '.join(where)}: {error}") for error, where in found.items()]


def _longest_field(event: Event) -> str:
    def size(name: str) -> int:
        value: Any = event
        for part in name.split("."):
            value = getattr(value, part, None)
        texts = value.values() if isinstance(value, dict) else [value] if isinstance(value, str) else []
        return max(map(len, texts), default=0)

    return max(_LONG_FIELDS, key=size)


def _notes(items: Iterable[PlanItem], event: Event, now: datetime) -> list[str]:
    """What happens to the steps already past, one line per step: "announcement goes out now: its time, 7 days
    before the start, has passed (on telegram, vk)"; one line for an event that is over."""
    late = [item for item in items if item.late is not None]
    if late and now >= event.end:
        if event.past:
            return []  # recorded as past on purpose: nothing to tell
        return ["the event is over: none of its posts goes out (`announce-bot retry` sends one on purpose)"]
    grouped: dict[tuple[str, str], list[str]] = {}
    for item in late:
        assert item.late is not None
        grouped.setdefault((item.step_id, item.late.reason), []).append(item.target)
    return [f"{step} {'' if reason.startswith('goes out') else 'skipped: '}{reason} (on {', '.join(where)})"
            for (step, reason), where in grouped.items()]


def describe_prepared(prepared: Prepared) -> list[str]:
    """Every line the organiser is told, for a terminal or a flash message."""
    return ([f"✗ {problem}" for problem in prepared.errors] + [f"! {problem}" for problem in prepared.warnings]
            + [f"→ {note}" for note in prepared.notes])



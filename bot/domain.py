"""Pure domain models: events, campaigns, planned posts and receipts (no I/O, no platform SDKs)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator


class Frozen(BaseModel):
    """Base for immutable value types: unknown fields are errors, nothing changes after validation."""

    # The validators are built on first use, not on import: a command that validates nothing (`--help`) starts
    # without paying for every model.
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True)


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value


Url = Annotated[str, AfterValidator(_check_url)]
# An event's id (its address, its file's name): 1-80 lower-case letters, digits and hyphens, a letter or digit first.
SLUG = r"[a-z0-9][a-z0-9-]{0,79}"
Slug = Annotated[str, Field(pattern=rf"^{SLUG}$")]
LangCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
NonEmpty = Annotated[str, Field(min_length=1)]

# A text is written once ("Moscow") or per language ({en: Moscow, ru: Москва}).
Text = NonEmpty | dict[LangCode, NonEmpty]

# Read back from the database, an event is taken as it was stored (see `bounded`).
STORED: dict[str, Any] = {"stored": True}


def bounded(limit: int) -> AfterValidator:
    """At most `limit` characters in each language. Past these no post could carry the text, and a bound keeps
    rendering, fitting and previews fast whatever is typed or pasted. An event stored before a bound existed is
    read back as it was (validated with the `STORED` context), so that no stored event becomes unreadable."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if isinstance(info.context, dict) and info.context.get("stored"):
            return value
        for text in [value] if isinstance(value, str) else value.values():
            if len(text) > limit:
                raise ValueError(f"at most {limit:,} characters; this one has {len(text):,}: shorten it")
        return value

    return AfterValidator(check)


# The documented maximum of each text field (README, "Event files"), per language.
TEXT_LIMITS: dict[str, int] = {
    "title": 300, "report_title": 300, "series": 200, "organiser": 300, "format": 200, "topic": 1_000,
    "lead": 1_000, "description": 20_000, "report": 20_000, "venue": 300, "address": 500, "name": 200,
    "position": 500, "accreditation": 2_000, "alt": 500,
}
Title = Annotated[Text, bounded(TEXT_LIMITS["title"])]


def pick(text: Text | None, lang: str, fallback: str) -> str:
    """The text in `lang`, else in the event's own language, else any; '' for None."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    return text.get(lang) or text.get(fallback) or next(iter(text.values()))


class Platform(StrEnum):
    TELEGRAM = "telegram"
    VK = "vk"
    X = "x"
    DZEN = "dzen"
    MAX = "max"


class EventStatus(StrEnum):
    SCHEDULED = "scheduled"
    POSTPONED = "postponed"  # no date yet
    CANCELLED = "cancelled"
    DRAFT = "draft"  # being written: nothing of it goes out, nor is it shown, until it is scheduled

    @property
    def public(self) -> bool:
        return self is not EventStatus.DRAFT


class PostKind(StrEnum):
    ANNOUNCEMENT = "announcement"
    REMINDER = "reminder"
    LIVE = "live"
    SUMMARY = "summary"
    CHANGED = "changed"


class Person(Frozen):
    name: Annotated[Text, bounded(TEXT_LIMITS["name"])]
    position: Annotated[Text, bounded(TEXT_LIMITS["position"])] | None = None
    link: Url | None = None


CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class Venue(Frozen):
    """Where the event takes place: its name, and its address either as one line (`address`) or in parts (street,
    locality, region, postal code, country: what search engines read as a PostalAddress), or both."""

    name: Annotated[Text, bounded(TEXT_LIMITS["venue"])]
    address: Annotated[Text, bounded(TEXT_LIMITS["address"])] | None = None  # one line, as a reader sees it
    street: Annotated[Text, bounded(TEXT_LIMITS["address"])] | None = None  # "Tsvetnoy boulevard 16/1"
    locality: Annotated[Text, bounded(TEXT_LIMITS["venue"])] | None = None  # the city: "Moscow"
    region: Annotated[Text, bounded(TEXT_LIMITS["venue"])] | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    country: CountryCode | None = None  # ISO 3166-1 alpha-2 ("RU"): each language names it itself
    map_url: Url | None = None

    @model_validator(mode="after")
    def _some_address(self) -> Venue:
        if self.address is None and self.street is None and self.locality is None:
            raise ValueError("give the venue's address: one line in `address`, or `street` and `locality`")
        return self


class Accreditation(Frozen):
    text: Annotated[Text, bounded(TEXT_LIMITS["accreditation"])] | None = None
    form_url: Url | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{5,20}$")] | None = None
    # When accreditation closes (wall-clock time in the event's zone, like start): from then on the accreditation
    # line is left out of new posts and of the public page, and campaign steps may be timed from it.
    deadline: datetime | None = None


# A cover uploaded to this app before its public address was set: its path, made absolute with [web] public_url
# where a platform fetches it (bot/web/covers.py names the files so).
COVER_PATH = re.compile(rf"^/covers/{SLUG}-[0-9a-f]{{16}}\.(jpg|png)$")


def _check_cover(value: str) -> str:
    if value.startswith("/"):
        if not COVER_PATH.match(value):
            raise ValueError(f"not an http(s) URL nor an uploaded cover's /covers/ path: {value!r}")
        return value
    return _check_url(value)


class Cover(Frozen):
    url: Annotated[str, AfterValidator(_check_cover)]  # an image's http(s) URL, or an upload's /covers/ path
    alt: Annotated[Text, bounded(TEXT_LIMITS["alt"])] | None = None


class Event(Frozen):
    """One public event, as the organiser describes it in `config/events/<id>.yaml`."""

    id: Slug
    lang: LangCode = "en"
    status: EventStatus = EventStatus.SCHEDULED
    series: Annotated[Text, bounded(TEXT_LIMITS["series"])] | None = None
    title: Title
    organiser: Annotated[Text, bounded(TEXT_LIMITS["organiser"])]
    format: Annotated[Text, bounded(TEXT_LIMITS["format"])] = "event"
    topic: Annotated[Text, bounded(TEXT_LIMITS["topic"])]
    lead: Annotated[Text, bounded(TEXT_LIMITS["lead"])] | None = None
    description: Annotated[Text, bounded(TEXT_LIMITS["description"])] | None = None
    start: datetime
    end: datetime
    timezone: str
    previous_start: datetime | None = None  # the start it was announced with before it was moved (postpone sets it)
    venue: Venue
    speakers: tuple[Person, ...] = ()
    moderator: Person | None = None
    languages: tuple[LangCode, ...] = ()
    accreditation: Accreditation | None = None
    live: dict[Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")], Url] = Field(default_factory=dict)
    # Where the recording can be watched afterwards, per place (vk, rutube, youtube, website...): the summary
    # carries it, and a summary step may wait for it (`requires: recording`).
    recording: dict[Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")], Url] = Field(default_factory=dict)
    url: Url | None = None
    hashtags: tuple[Annotated[str, Field(pattern=r"^\w{1,100}$")], ...] = ()
    cover: Cover | None = None
    report: Annotated[Text, bounded(TEXT_LIMITS["report"])] | None = None
    report_title: Title | None = None  # the summary's headline ("... discussed ..."); defaults to the title
    # A past event recorded as it happened (its page, calendar and summary): without it, saving an event whose
    # start has passed is refused, as its announcement and reminders could never go out.
    past: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Moscow)")
        try:
            ZoneInfo(value)
        except ZoneInfoNotFoundError as exc:  # pragma: no cover - available_timezones() said it exists
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("hashtags", mode="before")
    @classmethod
    def _strip_hash(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(v.lstrip("#") if isinstance(v, str) else v for v in value)
        return value

    @model_validator(mode="after")
    def _localise_and_order(self) -> Event:
        zone = ZoneInfo(self.timezone)
        # Naive times in the file are wall-clock times in the event's zone; aware ones are converted.
        start = _in_zone(self.start, zone)
        end = _in_zone(self.end, zone)
        if end <= start:
            raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        accreditation = self.accreditation
        if accreditation is not None and accreditation.deadline is not None:
            deadline = _in_zone(accreditation.deadline, zone)
            object.__setattr__(self, "accreditation", accreditation.model_copy(update={"deadline": deadline}))
        if self.previous_start is not None:
            object.__setattr__(self, "previous_start", _in_zone(self.previous_start, zone))
        return self

    @property
    def deadline(self) -> datetime | None:
        """When accreditation closes, if the event says."""
        return self.accreditation.deadline if self.accreditation is not None else None

    def accreditation_open(self, now: datetime | None) -> bool:
        """Whether posts and pages made at `now` still invite the media to accredit (None: no clock, always)."""
        return now is None or self.deadline is None or now < self.deadline

    @property
    def moved(self) -> bool:
        """It takes place, at another time than first announced."""
        return self.status is EventStatus.SCHEDULED and self.previous_start not in (None, self.start)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# Fields added after events were first stored (dotted for a nested one), each with its default: left out of the
# version while at it, so that adding a field changes no stored event's version (a new version withdraws
# approvals and renders the posts again).
ADDED_LATER: dict[str, object] = {
    "past": False, "recording": {}, "accreditation.deadline": None, "previous_start": None,
    **{f"venue.{part}": None for part in ("street", "locality", "region", "postal_code", "country")},
}


def content_hash(event: Event) -> str:
    """The event's version: the hash of everything it says (a new one for every change)."""
    data = event.model_dump(mode="json")
    for path, default in ADDED_LATER.items():
        *outer, name = path.split(".")
        holder: Any = data
        for key in outer:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and holder.get(name, default) == default:
            holder.pop(name, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def with_overlays(event: Event, live: dict[str, str] | None = None, recording: dict[str, str] | None = None
                  ) -> Event:
    """`event` with the stream and recording links set outside its file (go-live, `recording`) laid over its own:
    they are kept whatever its file says."""
    changes: dict[str, object] = {}
    if live:
        changes["live"] = {**event.live, **live}
    if recording:
        changes["recording"] = {**event.recording, **recording}
    return event.model_copy(update=changes) if changes else event


def _in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


_OFFSET = re.compile(
    r"^(?P<anchor>start|end|accreditation_deadline)(?:\s*(?P<sign>[+-])\s*(?P<amount>(?:\d+\s*[wdhms]\s*)+))?$")
_UNIT = {
    "w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}


class CatchUp(StrEnum):
    """What to do with a post that comes due late (the bot was down): declared per campaign step."""

    ALWAYS = "always"  # send whenever possible (a summary)
    BEFORE_END = "before_end"  # late is fine until the event is over (an announcement)
    BEFORE_START = "before_start"  # only while the event has not started (reminders)
    WHILE_RUNNING = "while_running"  # only until the event ends (live post)


class OnUnknown(StrEnum):
    """What to do after a crash left a post's outcome unknown (sent or not, nobody can tell)."""

    REPORT = "report"  # mark it unknown and tell the organiser, who may `announce-bot retry` it
    RESEND = "resend"  # send it again: a duplicate is better than nothing (a live link, say)


class Approval(StrEnum):
    """Whether a post must be signed off before it goes out, and whether it was (for the event as it is now)."""

    NONE = "none"  # the campaign step does not ask for approval
    PENDING = "pending"  # asked for, not given (or withdrawn by a change to the event)
    APPROVED = "approved"


Anchor = Literal["start", "end", "accreditation_deadline"]
# What a step may wait for before it goes out (a summary: the report, the recording, or whichever comes first).
Requires = Literal["report", "recording", "any"]


class Step(Frozen):
    """One planned post of a campaign: what kind goes out, when (relative to the event), and where."""

    id: Slug
    kind: PostKind
    at: str = Field(description="'start', 'start - 7d', 'end + 2h', 'start - 1d 12h', 'accreditation_deadline - 2d'")
    platforms: tuple[Platform, ...] | None = None
    catch_up: CatchUp = CatchUp.ALWAYS
    on_unknown: OnUnknown = OnUnknown.REPORT
    requires: Requires | None = None
    requires_report: bool = False  # the older spelling of `requires: report`
    approval: Literal["none", "required"] = "none"  # required: an approver signs each post off before it goes out

    @field_validator("at")
    @classmethod
    def _parse_at(cls, value: str) -> str:
        if not _OFFSET.match(value.strip()):
            raise ValueError(f"cannot read {value!r}: write 'start', 'start - 7d', 'end + 2h' or "
                             "'accreditation_deadline - 2d' (units w d h m s)")
        return value.strip()

    @model_validator(mode="after")
    def _one_requirement(self) -> Step:
        if self.requires_report and self.requires not in (None, "report"):
            raise ValueError(f"requires_report: true and requires: {self.requires} disagree; write only `requires`")
        if self.requires_report and self.requires is None:
            object.__setattr__(self, "requires", "report")
        return self

    @property
    def anchor(self) -> Anchor:
        match = _OFFSET.match(self.at)
        assert match is not None
        return cast(Anchor, match["anchor"])

    def unplanned(self, event: Event) -> str | None:
        """Why this step plans no post for `event` (it is timed from a date the event does not give), else None."""
        if self.anchor == "accreditation_deadline" and event.deadline is None:
            return f"{self.id}: timed from the accreditation deadline, which the event does not give " \
                "(accreditation.deadline): not planned"
        return None

    def waiting_for(self, event: Event) -> str | None:
        """What the step's post still waits for (its `requires`), or None when it may go out at its time."""
        if self.requires == "report" and not event.report:
            return "no report yet"
        if self.requires == "recording" and not event.recording:
            return "no recording yet: `announce-bot recording` sets it"
        if self.requires == "any" and not event.report and not event.recording:
            return "neither a report nor a recording yet"
        return None

    @property
    def offset(self) -> timedelta:
        match = _OFFSET.match(self.at)
        assert match is not None
        total = timedelta()
        for amount, unit in re.findall(r"(\d+)\s*([wdhms])", match["amount"] or ""):
            total += int(amount) * _UNIT[unit]
        return -total if match["sign"] == "-" else total

    def due(self, event: Event) -> datetime:
        """When the step's post is due. A step timed from an accreditation deadline the event lacks is not planned
        (`unplanned`); shown anyway (a preview), it counts from the start."""
        anchor = self.anchor
        if anchor == "end":
            return event.end + self.offset
        if anchor == "accreditation_deadline" and event.deadline is not None:
            return event.deadline + self.offset
        return event.start + self.offset


class Campaign(Frozen):
    """The plan of what goes out when, shared by all events (`config/campaign.yaml`)."""

    platforms: tuple[Platform, ...] = tuple(Platform)
    steps: tuple[Step, ...]
    notify_changes: bool = True

    @model_validator(mode="after")
    def _unique_ids(self) -> Campaign:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} appears twice")
            seen.add(step.id)
        return self

    def platforms_of(self, step: Step) -> tuple[Platform, ...]:
        """The step's own platforms, else the campaign's; a reminder goes to Dzen only when its step names Dzen
        (there it would be a second article about the same event)."""
        if step.platforms is not None:
            return step.platforms
        if step.kind is PostKind.REMINDER:
            return tuple(platform for platform in self.platforms if platform is not Platform.DZEN)
        return self.platforms


class PostState(StrEnum):
    """Where a planned post stands; the moves between states are `TRANSITIONS`, the organiser's are `COMMANDS`."""

    WAITING = "waiting"  # planned, but a precondition is missing (no report yet)
    PLANNED = "planned"
    CLAIMED = "claimed"  # a sender took it; once its delivery is in flight the request may have left
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"  # not wanted any more (the event was cancelled or withdrawn, the step removed)
    AWAITING_APPROVAL = "awaiting approval"  # due, but nobody has approved it yet
    UNKNOWN = "unknown"  # the request may or may not have been published: a person checks, then retries or skips

    @property
    def settled(self) -> bool:
        """Nothing more happens to it unless someone asks."""
        return self in _SETTLED


_SETTLED = frozenset({PostState.SENT, PostState.FAILED, PostState.SKIPPED, PostState.CANCELLED, PostState.UNKNOWN})

_S = PostState
# The one transition table: from each state, the states the scheduler, the importer or an organiser may move a
# planned post to. Storage writes each move as `UPDATE ... WHERE state IN (the states allowed to move there)`.
TRANSITIONS: dict[PostState, frozenset[PostState]] = {
    _S.WAITING: frozenset({_S.PLANNED, _S.CANCELLED, _S.SKIPPED}),
    _S.PLANNED: frozenset({_S.CLAIMED, _S.WAITING, _S.CANCELLED, _S.SKIPPED, _S.AWAITING_APPROVAL}),
    # Approved: planned (it goes out now); its catch-up window closed: skipped; the event cancelled: cancelled.
    _S.AWAITING_APPROVAL: frozenset({_S.PLANNED, _S.SKIPPED, _S.CANCELLED, _S.WAITING}),
    # Claimed: sent, retried later, failed for good, uncertain; skipped when it came too late; planned again
    # when the claim is given back before anything was sent.
    _S.CLAIMED: frozenset({_S.SENT, _S.RETRYING, _S.FAILED, _S.UNKNOWN, _S.SKIPPED, _S.PLANNED}),
    _S.RETRYING: frozenset({_S.CLAIMED, _S.PLANNED, _S.SKIPPED, _S.CANCELLED}),
    _S.FAILED: frozenset({_S.PLANNED, _S.SKIPPED}),
    _S.UNKNOWN: frozenset({_S.PLANNED, _S.SKIPPED, _S.SENT}),  # SENT: its receipt turned up after all
    _S.SKIPPED: frozenset({_S.PLANNED}),
    _S.CANCELLED: frozenset({_S.PLANNED, _S.WAITING}),  # the event was restored or rescheduled
    _S.SENT: frozenset(),
}


def sources(state: PostState) -> frozenset[PostState]:
    """The states from which a post may move to `state`."""
    return frozenset(source for source, targets in TRANSITIONS.items() if state in targets)


class Command(StrEnum):
    """What an organiser may ask of one planned post, from the CLI, Telegram or the dashboard."""

    PUBLISH = "publish"  # send it now, whatever its due time, and wait for the outcome
    RETRY = "retry"  # send a failed, unknown or skipped post again, now
    SKIP = "skip"  # it will not go out
    APPROVE = "approve"  # an approver signs it off (a step with `approval: required`)


# The states each command accepts. An unknown post is only re-sent on purpose (retry), never by "publish now".
COMMANDS: dict[Command, frozenset[PostState]] = {
    Command.PUBLISH: frozenset({_S.PLANNED, _S.RETRYING, _S.FAILED, _S.SKIPPED}),
    Command.RETRY: frozenset({_S.FAILED, _S.UNKNOWN, _S.SKIPPED, _S.RETRYING}),
    Command.SKIP: frozenset({_S.PLANNED, _S.WAITING, _S.RETRYING, _S.FAILED, _S.UNKNOWN, _S.AWAITING_APPROVAL}),
    Command.APPROVE: frozenset({_S.PLANNED, _S.WAITING, _S.RETRYING, _S.AWAITING_APPROVAL}),
}
CLAIMABLE = frozenset({_S.PLANNED, _S.RETRYING})  # what the scheduler takes when it comes due


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedPost:
    """One post of one event on one target, as stored: what the CLI, the chat bot, the web and the scheduler see."""

    id: int
    event_id: str
    step_id: str
    kind: PostKind
    target: str
    platform: Platform
    lang: str
    catch_up: CatchUp
    due_at: datetime
    state: PostState
    reason: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    post_id: str | None = None
    link: str | None = None
    parts: tuple[str, ...] = ()  # the ids of the parts already published (a thread under way)
    pinned_message_id: str | None = None
    manual: bool = False  # asked for by an organiser, not a campaign step (an extra copy, an unplanned kind)
    actor: str | None = None  # who last asked for it (publish, retry, skip)
    updated_at: datetime | None = None
    approval: Approval = Approval.NONE
    approved_by: str | None = None
    approved_at: datetime | None = None
    approval_asked_at: datetime | None = None  # when the approvers were last asked (None: not yet, or again)
    edits: int | None = None  # a correction: the id of the published post it edits (the event changed)
    rendering: Rendering | None = None  # as rendered when planned (read only where the text is needed)
    render_error: str | None = None  # why it could not be rendered when planned (its inputs: `rendered_for`)
    rendered_for: str | None = None

    @property
    def when(self) -> datetime:
        """When it goes out next: its retry time, else its due time."""
        return self.next_attempt_at or self.due_at

    @property
    def label(self) -> str:
        return f"#{self.id} {self.event_id} {self.step_id} on {self.target}"

    def allows(self, command: Command) -> bool:
        return self.state in COMMANDS[command]


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One attempt to publish one post on one target, and what came of it (the delivery log)."""

    id: int
    planned_post_id: int | None
    event_id: str
    kind: str
    target: str
    platform: str
    state: PostState  # CLAIMED while in flight, then SENT, RETRYING, FAILED or UNKNOWN
    post_id: str | None = None
    link: str | None = None
    error: str | None = None
    error_kind: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    actor: str | None = None


class EventOrigin(StrEnum):
    """Where a stored event is defined: its file under `events/`, or the dashboard (the database)."""

    FILE = "file"
    DASHBOARD = "dashboard"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEvent:
    """An event as the database holds it, with where it comes from and whether it was withdrawn."""

    event: Event
    origin: EventOrigin
    source: str  # the file, for an event from a file
    version: str  # the content hash: a new one for every change
    withdrawn: str | None = None  # why it was withdrawn (its file removed...): None while it is live
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def id(self) -> str:
        return self.event.id

    @property
    def active(self) -> bool:
        """Its posts go out: scheduled, and not withdrawn."""
        return self.withdrawn is None and self.event.status is EventStatus.SCHEDULED

    @property
    def public(self) -> bool:
        """Shown on the public pages, feeds and by the chat bot: not withdrawn, not a draft."""
        return self.withdrawn is None and self.event.status.public


@dataclass(frozen=True, slots=True)
class Rendering:
    """A post's text as stored with its plan (RenderedPost as JSON), parsed only when it is used."""

    json: str

    def post(self) -> RenderedPost:
        return RenderedPost.model_validate_json(self.json)


class Part(Frozen):
    """One message of a post: a Telegram message, a tweet of a thread, a whole VK post."""

    text: str
    length: int


class RenderedPost(Frozen):
    """A post rendered for one target, already fitted to the platform's limits."""

    event_id: str
    kind: PostKind
    target: str
    platform: Platform
    lang: str
    markup: str
    parts: tuple[Part, ...]
    limit: int
    fitted: bool = False
    title: str = ""
    link: str | None = None
    image: str | None = None
    teaser: str | None = None  # one line a live post adds to the pinned announcement (template's `teaser`)
    summary: str = ""  # a plain-text synopsis for feeds (bot.summaries.synopsis: the lead, else a generated sentence)
    image_length: int | None = None  # the image's size in bytes, when it is this app's own file (Dzen's enclosure)

    @property
    def text(self) -> str:
        return "\n\n".join(part.text for part in self.parts)


class Receipt(Frozen):
    """What a platform returned for a published post."""

    platform: Platform
    target: str
    post_id: str
    link: str | None = None
    extra_ids: tuple[str, ...] = ()


class ReminderState(StrEnum):
    """The states of one personal reminder; `sending` is written just before the network call."""

    QUEUED = "queued"
    CLAIMED = "claimed"  # taken by a sender, not yet attempted: safe to give back after a crash
    SENDING = "sending"  # the call may be in flight: after a crash, never sent again
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"  # the person blocked the bot (403)
    SKIPPED = "skipped"  # too late, or the event was cancelled
    UNKNOWN = "unknown"  # the bot stopped (or timed out) mid-call: it may or may not have arrived

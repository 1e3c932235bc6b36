"""Pure domain models: events, campaigns, planned posts and receipts (no I/O, no platform SDKs)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator


class Frozen(BaseModel):
    """Base for immutable value types: unknown fields are errors, nothing changes after validation."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value


Url = Annotated[str, AfterValidator(_check_url)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")]
LangCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
NonEmpty = Annotated[str, Field(min_length=1)]

# A text is written once ("Moscow") or per language ({en: Moscow, ru: Москва}).
Text = NonEmpty | dict[LangCode, NonEmpty]


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
    name: Text
    position: Text | None = None
    link: Url | None = None


CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class Venue(Frozen):
    """Where the event takes place: its name, and its address either as one line (`address`) or in parts (street,
    locality, region, postal code, country: what search engines read as a PostalAddress), or both."""

    name: Text
    address: Text | None = None  # one line, as a reader sees it; else made of the parts below
    street: Text | None = None  # "Tsvetnoy boulevard 16/1"
    locality: Text | None = None  # the city: "Moscow"
    region: Text | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    country: CountryCode | None = None  # ISO 3166-1 alpha-2 ("RU"): each language names it itself
    map_url: Url | None = None

    @model_validator(mode="after")
    def _some_address(self) -> Venue:
        if self.address is None and self.street is None and self.locality is None:
            raise ValueError("give the venue's address: one line in `address`, or `street` and `locality`")
        return self


class Accreditation(Frozen):
    text: Text | None = None
    form_url: Url | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{5,20}$")] | None = None


# A cover uploaded to this app before its public address was set: its path, made absolute with [web] public_url
# where a platform fetches it (bot/web/covers.py names the files so).
COVER_PATH = re.compile(r"^/covers/[a-z0-9][a-z0-9-]{0,79}-[0-9a-f]{16}\.(jpg|png)$")


def _check_cover(value: str) -> str:
    if value.startswith("/"):
        if not COVER_PATH.match(value):
            raise ValueError(f"not an http(s) URL nor an uploaded cover's /covers/ path: {value!r}")
        return value
    return _check_url(value)


class Cover(Frozen):
    url: Annotated[str, AfterValidator(_check_cover)]  # an image's http(s) URL, or an upload's /covers/ path
    alt: Text | None = None


class Event(Frozen):
    """One public event, as the organiser describes it in `config/events/<id>.yaml`."""

    id: Slug
    lang: LangCode = "en"
    status: EventStatus = EventStatus.SCHEDULED
    series: Text | None = None
    title: Text
    organiser: Text
    format: Text = "event"
    topic: Text
    lead: Text | None = None
    description: Text | None = None
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
    url: Url | None = None
    hashtags: tuple[Annotated[str, Field(pattern=r"^\w{1,100}$")], ...] = ()
    cover: Cover | None = None
    report: Text | None = None
    report_title: Text | None = None  # the summary's headline ("... discussed ..."); defaults to the title

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
        if self.previous_start is not None:
            object.__setattr__(self, "previous_start", _in_zone(self.previous_start, zone))
        return self

    @property
    def moved(self) -> bool:
        """It takes place, at another time than first announced."""
        return self.status is EventStatus.SCHEDULED and self.previous_start not in (None, self.start)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


_OFFSET = re.compile(r"^(?P<anchor>start|end)(?:\s*(?P<sign>[+-])\s*(?P<amount>(?:\d+\s*[wdhms]\s*)+))?$")
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


class Step(Frozen):
    """One planned post of a campaign: what kind goes out, when (relative to the event), and where."""

    id: Slug
    kind: PostKind
    at: str = Field(description="'start', 'start - 7d', 'end + 2h', 'start - 1d 12h'")
    platforms: tuple[Platform, ...] | None = None
    catch_up: CatchUp = CatchUp.ALWAYS
    on_unknown: OnUnknown = OnUnknown.REPORT
    requires_report: bool = False
    approval: Literal["none", "required"] = "none"  # required: an approver signs each post off before it goes out

    @field_validator("at")
    @classmethod
    def _parse_at(cls, value: str) -> str:
        if not _OFFSET.match(value.strip()):
            raise ValueError(f"cannot read {value!r}: write 'start', 'start - 7d', 'end + 2h' (units w d h m s)")
        return value.strip()

    @property
    def anchor(self) -> Literal["start", "end"]:
        match = _OFFSET.match(self.at)
        assert match is not None
        return "start" if match["anchor"] == "start" else "end"

    @property
    def offset(self) -> timedelta:
        match = _OFFSET.match(self.at)
        assert match is not None
        total = timedelta()
        for amount, unit in re.findall(r"(\d+)\s*([wdhms])", match["amount"] or ""):
            total += int(amount) * _UNIT[unit]
        return -total if match["sign"] == "-" else total

    def due(self, event: Event) -> datetime:
        return (event.start if self.anchor == "start" else event.end) + self.offset


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

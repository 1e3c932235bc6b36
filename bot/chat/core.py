"""What every chat feature shares, whatever the messenger: a message or a press as the bot reads it (`Incoming`), the
replies it can make (`Replies`), the services it is built on, the reader's language, and how an event reads."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from bot.chat.callbacks import Calendar, CallbackData, EventCard, LiveLinks, Remind, Speakers, StopReminding
from bot.chat.texts import esc, lang_of, t
from bot.clock import Clock, utcnow
from bot.config import AppConfig
from bot.config.live import LiveConfig
from bot.domain import Event, Platform
from bot.operations import Operations
from bot.platforms import SPECS, TELEGRAM, PlatformSpec
from bot.rendering.context import EventView, view
from bot.storage.chat import ChatStore
from bot.subscribers import Subscribers
from bot.summaries import synopsis

T = TypeVar("T")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
# A "Remind me" button in a group opens the private chat with the bot on that event (its /start payload).
DEEP_LINKS = {Platform.TELEGRAM: "https://t.me/{bot}?start={payload}",
              Platform.MAX: "https://max.ru/{bot}?start={payload}"}


class ChatUnavailable(Exception):
    """A chat bot cannot run with these settings (no token, no webhook secret...): says why."""


# -- what comes in, what goes out ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Incoming:
    """A message or a button press, as every feature reads it, whichever messenger it came from."""

    messenger: Platform
    chat_id: int | None  # where to answer
    user_id: int | None  # who wrote or pressed
    private: bool  # a person's own chat with the bot (else a group)
    name: str | None = None  # their first name
    handle: str | None = None  # their username, else full name (who approved a post)
    language: str | None = None  # their app's language ("ru-RU")
    command: str | None = None  # "next" for "/next@bot ..."
    addressee: str | None = None  # "bot" for "/next@bot": a command in a group may be for another bot
    args: tuple[str, ...] = ()
    data: str | None = None  # the pressed button's payload (bot/chat/callbacks.py)
    rows: int = 0  # rows of buttons under the message whose button was pressed

    @property
    def owner(self) -> int | None:
        """The subscriber: the person in a private chat, the group itself in a group."""
        if self.private or self.chat_id is None:
            return self.user_id if self.user_id is not None else self.chat_id
        return self.chat_id

    @property
    def actor(self) -> str:
        """Who asked, for the records ("telegram:1001")."""
        return f"{self.messenger}:{self.user_id}"

    def text(self, limit: int = 200) -> str:
        """The command's arguments as one line, at most `limit` characters."""
        return " ".join(self.args)[:limit].strip()


@dataclass(frozen=True, kw_only=True)
class Button:
    text: str
    data: CallbackData | None = None  # pressed: comes back as the Incoming's `data`
    url: str | None = None  # or opens a link


Keyboard = tuple[tuple[Button, ...], ...]  # rows of buttons


def keyboard(*rows: Sequence[Button]) -> Keyboard:
    return tuple(tuple(row) for row in rows if row)


class Replies(Protocol):
    """How a feature answers, implemented once per messenger (bot/chat/telegram.py, bot/chat/max.py). Texts are the
    chat bot's HTML (<b>, <i>, <a>, <code>), clipped to the messenger's limit by the implementation."""

    async def send(self, text: str, buttons: Keyboard | None = None, *, reply: bool = False) -> None:
        """A new message in the chat the update came from (`reply`: as a reply to the pressed message)."""

    async def edit(self, text: str, buttons: Keyboard | None = None) -> None:
        """Change the message whose button was pressed (else send a new one)."""

    async def edit_buttons(self, text: str, buttons: Keyboard | None) -> None:
        """Change only the pressed message's buttons; `text` is what it says (a messenger that cannot edit
        buttons alone sends it again)."""

    async def drop_buttons(self) -> None:
        """Remove the pressed message's buttons where the messenger can without sending its text again; best
        effort (a message too old to edit keeps them)."""

    async def answer(self, note: str | None = None) -> None:
        """Answer the press (a short note the person sees for a moment, or nothing)."""

    async def send_file(self, name: str, data: bytes, caption: str) -> None:
        """A file (the calendar's .ics) with a caption."""


Handler = Callable[[Incoming, Replies], Awaitable[None]]


@dataclass(frozen=True)
class Routes:
    """What a feature answers: commands by name, and presses by the kind of payload."""

    commands: Mapping[str, Handler] = field(default_factory=dict)
    buttons: Mapping[type[CallbackData], Handler] = field(default_factory=dict)

    def __add__(self, other: Routes) -> Routes:
        return Routes({**self.commands, **other.commands}, {**self.buttons, **other.buttons})

    def button(self, data: str | None) -> Handler | None:
        """The handler of a press with this payload, or None (a stale or foreign button)."""
        return next((handler for kind, handler in self.buttons.items() if kind.pattern().match(data or "")), None)


# -- the services every feature is built on --------------------------------------------------------------


@dataclass(kw_only=True)
class Services:
    """Everything the handlers use, built once per messenger and passed in (no globals). The configuration is read
    from `live` at each use, so a reload (from anywhere) reaches the chat bot with everything else.

    Storage is never touched on the event loop: reads go through `read` (a worker thread), changes through
    `subscribers` (the operations layer's)."""

    live: LiveConfig
    subscribers: Subscribers
    messenger: Platform = Platform.TELEGRAM
    clock: Clock = utcnow
    operations: Operations | None = None  # the admin commands act through it (None: they are unavailable)
    progress: Callable[[], list[str]] | None = None  # reminder broadcasts, for /status (called in a thread)
    bot_username: str = "announce_bot"
    keys: dict[str, str] = field(default_factory=dict)  # short key -> event id, for long ids
    cards: dict[tuple[str, str], tuple[Event, bool, str]] = field(default_factory=dict)

    @property
    def chats(self) -> ChatStore:
        return self.subscribers.chats

    @property
    def config(self) -> AppConfig:
        return self.live.current

    @property
    def spec(self) -> PlatformSpec:
        """The messenger's limits: a message's length, and how it is counted."""
        return SPECS[self.messenger]

    async def read(self, call: Callable[..., T], *args: object) -> T:
        """Storage reads, in a worker thread."""
        return await asyncio.to_thread(call, *args)

    def card(self, event: Event, lang: str) -> str:
        """`card()`, made once per event version and language (the store hands out one object per version), and
        again once its accreditation closes."""
        now = self.clock()
        hit = self.cards.get((event.id, lang))
        if hit is not None and hit[0] is event and hit[1] == event.accreditation_open(now):
            return hit[2]
        text = card(event, lang, now, self.spec)
        self.cards[(event.id, lang)] = (event, event.accreditation_open(now), text)
        return text

    def is_admin(self, msg: Incoming) -> bool:
        admin = self.config.settings.admin
        ids = admin.max_user_ids if self.messenger is Platform.MAX else admin.user_ids
        return msg.user_id is not None and msg.user_id in ids

    def deep_link(self, payload: str) -> str:
        return DEEP_LINKS[self.messenger].format(bot=self.bot_username, payload=payload)

    # -- who is asking ----------------------------------------------------------------------------

    async def lang(self, msg: Incoming) -> str:
        """The language of whoever asked: the one they chose, else their app's, else English."""
        owner = msg.owner
        if owner is not None:
            chosen = self.chats.known_lang(owner, messenger=self.messenger)  # from memory, mostly
            if chosen is None:
                chosen = await self.read(self._lang, owner)
            if chosen:
                return chosen
        return lang_of(msg.language)

    def _lang(self, owner: int) -> str:
        return self.chats.lang(owner, messenger=self.messenger) or ""

    async def subscribed(self, msg: Incoming, event: Event) -> bool:
        owner = msg.owner
        if owner is None or self.chats.known_lang(owner, messenger=self.messenger) == "":
            return False  # someone the bot has not met (known from memory) has no subscriptions
        return await self.read(self._wants, owner, event.id)

    async def first(self, name: str) -> Event | None:
        """The next event to start ("next") or the one on now, else next ("live"): from memory when the store
        remembers it, else read in a worker thread."""
        now = self.clock()
        hit, event = self.chats.remembered(name, now)
        if hit:
            return event
        return await self.read(self.chats.next_event if name == "next" else self.chats.live_or_next, now)

    def _wants(self, owner: int, event_id: str) -> bool:
        return self.chats.wants(owner, event_id, messenger=self.messenger)

    # -- event keys (Telegram's callback data and deep links hold at most 64 bytes) --------------

    def key(self, event_id: str) -> str:
        if len(event_id) <= 48:
            return event_id
        short = "_" + hashlib.sha256(event_id.encode()).hexdigest()[:20]  # '_' is never in an event id
        self.keys[short] = event_id
        return short

    async def resolve(self, key: str) -> Event | None:
        return await self.read(self._resolve, key)

    def _resolve(self, key: str) -> Event | None:
        key = key.strip().lower()
        if key.startswith("_"):
            if key not in self.keys:
                for event_id in self.chats.event_ids():
                    self.key(event_id)
            found = self.keys.get(key)
            return self.chats.event(found) if found else None
        if not _SLUG.match(key):
            return None
        return self.chats.event(key)


# -- how an event reads -------------------------------------------------------------------------------


def clip(text: str, spec: PlatformSpec = TELEGRAM) -> str:
    """Drop whole lines from the end until the messenger's limit is met (lines are self-contained HTML)."""
    if spec.fits(text):
        return text
    lines = text.split("\n")
    while len(lines) > 1 and not spec.fits("\n".join([*lines, "…"])):
        lines.pop()
    if len(lines) > 1:
        return "\n".join([*lines, "…"])
    cut = text[: spec.max_length - 1]
    while not spec.fits(esc(cut) + "…"):  # escaping lengthens it where tags count (MAX)
        cut = cut[: len(cut) - max(1, spec.measure(esc(cut) + "…") - spec.max_length)]
    return esc(cut) + "…"


def when_line(shown: EventView, lang: str) -> str:
    """'Wednesday, 27 November 2024, 11:00 Moscow Time (GMT+3)': the start in the event's own zone."""
    start = shown.start
    weekday = start.weekday[:1].upper() + start.weekday[1:]
    return t("when_format", lang, weekday=weekday, date=start.date, year=start.year, time=start.time,
             zone=start.zone, gmt=start.gmt, tz=start.tz)


def person_line(name: str, position: str) -> str:
    return f"• <b>{esc(name)}</b>" + (f" — {esc(position)}" if position else "")


def live_lines(shown: EventView) -> list[str]:
    return [f'• <a href="{esc(item.url)}">{esc(item.label)}</a>' for item in shown.live]


def card(event: Event, lang: str, now: datetime | None = None, spec: PlatformSpec = TELEGRAM) -> str:
    """The event in one message, within the messenger's limit: past `now`'s accreditation deadline, without the
    accreditation."""
    shown = view(event, lang, now)
    lines = [f"<b>{esc(shown.title)}</b>"]
    if shown.series:
        lines.append(f"<i>{esc(shown.series)}</i>")
    if shown.status in ("cancelled", "postponed"):
        lines.append(t(f"status_{shown.status}", lang))
    lines += ["", esc(synopsis(event, lang))]
    lines.append("")
    lines.append(f"📅 <b>{t('when', lang)}</b>: {when_line(shown, lang)}")
    place = ", ".join(part for part in (shown.venue, shown.address) if part)
    if shown.map_url:
        lines.append(f'📍 <b>{t("where", lang)}</b>: <a href="{esc(shown.map_url)}">{esc(place)}</a>')
    else:
        lines.append(f"📍 <b>{t('where', lang)}</b>: {esc(place)}")
    if shown.speakers:
        lines.append(f"🎤 <b>{t('speakers', lang)}</b>:")
        lines += [person_line(p.name, p.position) for p in shown.speakers]
    if shown.moderator:
        lines.append(f"🎙 <b>{t('moderator', lang)}</b>: " + person_line(shown.moderator.name,
                                                                      shown.moderator.position)[2:])
    if shown.languages:
        lines.append(f"🗣 <b>{t('languages', lang)}</b>: {esc(', '.join(shown.languages))}")
    if shown.accreditation or shown.accreditation_url or shown.phone:
        parts = [esc(shown.accreditation)] if shown.accreditation else []
        if shown.accreditation_url:
            parts.append(f'<a href="{esc(shown.accreditation_url)}">{t("accreditation_form", lang)}</a>')
        if shown.phone:
            parts.append(esc(shown.phone))
        lines.append(f"🪪 <b>{t('accreditation', lang)}</b>: " + " · ".join(parts))
    if shown.live:
        lines.append(f"📺 <b>{t('live_links', lang)}</b>: " + " · ".join(
            f'<a href="{esc(item.url)}">{esc(item.label)}</a>' for item in shown.live))
    if shown.url:
        lines.append(f'🔗 <a href="{esc(shown.url)}">{t("more", lang)}</a>')
    lines.append(t("id_line", lang, id=event.id))
    text = "\n".join(lines)
    if not spec.fits(text):  # many speakers: names only here, the Speakers button has the rest
        short = [line if not line.startswith("• <b>") else line.split(" — ")[0] for line in lines]
        text = "\n".join(short)
    return clip(text, spec)


def card_keyboard(services: Services, event: Event, lang: str, *, subscribed: bool, private: bool) -> Keyboard:
    key = services.key(event.id)
    if private:
        remind = Button(text=t("btn_unremind" if subscribed else "btn_remind", lang),
                        data=StopReminding(key) if subscribed else Remind(key))
    else:  # reminders come by direct message: the button opens the private chat on this event
        remind = Button(text=t("btn_remind", lang), url=services.deep_link(f"event_{key}"))
    return keyboard(
        [Button(text=t("btn_speakers", lang), data=Speakers(key)),
         Button(text=t("btn_live", lang), data=LiveLinks(key))],
        [Button(text=t("btn_calendar", lang), data=Calendar(key))],
        [remind],
    )


def back_keyboard(services: Services, event: Event, lang: str) -> Keyboard:
    return keyboard([Button(text=t("btn_back", lang), data=EventCard(services.key(event.id)))])


def event_buttons(services: Services, events: Sequence[Event], lang: str) -> list[list[Button]]:
    rows = []
    for event in events:
        title = view(event, lang).title
        label = title if len(title) <= 48 else title[:47] + "…"
        rows.append([Button(text=label, data=EventCard(services.key(event.id)))])
    return rows


def list_line(event: Event, lang: str, index: int) -> str:
    shown = view(event, lang)
    start = shown.start
    when = t("list_when", lang, date=start.date, year=start.year, time=start.time, gmt=start.gmt)
    return f"{index}. <b>{esc(shown.title)}</b>\n    {when}"


__all__ = ["Button", "Handler", "Incoming", "Keyboard", "Replies", "Routes", "Services", "card", "card_keyboard",
           "clip", "keyboard"]

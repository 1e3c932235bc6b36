"""What every chat feature shares: the services it is built on, the reader's language, event cards and replies."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.chat.texts import esc, lang_of, t
from bot.config import AppConfig
from bot.config.live import LiveConfig
from bot.domain import Event
from bot.operations import Operations
from bot.platforms import telegram_length
from bot.rendering.context import EventView, view
from bot.storage.chat import ChatStore
from bot.summaries import synopsis

Clock = Callable[[], datetime]
Context = ContextTypes.DEFAULT_TYPE
TEXT_LIMIT = 4096
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(kw_only=True)
class Services:
    """Everything the handlers use, built once and passed in (no globals). The configuration is read from `live`
    at each use, so a reload (from anywhere) reaches the chat bot with everything else."""

    live: LiveConfig
    chats: ChatStore
    clock: Clock = utcnow
    operations: Operations | None = None  # the admin commands act through it (None: they are unavailable)
    progress: Callable[[], list[str]] | None = None  # reminder broadcasts, for /status
    bot_username: str = "announce_bot"
    keys: dict[str, str] = field(default_factory=dict)  # short key -> event id, for long ids
    cards: dict[tuple[str, str], tuple[Event, bool, str]] = field(default_factory=dict)

    def card(self, event: Event, lang: str) -> str:
        """`card()`, made once per event version and language (the store hands out one object per version), and
        again once its accreditation closes."""
        now = self.clock()
        hit = self.cards.get((event.id, lang))
        if hit is not None and hit[0] is event and hit[1] == event.accreditation_open(now):
            return hit[2]
        text = card(event, lang, now)
        self.cards[(event.id, lang)] = (event, event.accreditation_open(now), text)
        return text

    @property
    def config(self) -> AppConfig:
        return self.live.current

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.config.settings.admin.user_ids

    # -- who is asking ----------------------------------------------------------------------------

    def lang(self, update: Update) -> str:
        """The language of whoever asked: the one they chose, else their Telegram app's, else English."""
        owner, _ = who(update)
        if owner is not None and (chosen := self.chats.lang(owner)):
            return chosen
        user = update.effective_user
        return lang_of(user.language_code if user else None)

    # -- event keys (callback data and deep links hold at most 64 bytes) --------------------------

    def key(self, event_id: str) -> str:
        if len(event_id) <= 48:
            return event_id
        short = "_" + hashlib.sha256(event_id.encode()).hexdigest()[:20]  # '_' is never in an event id
        self.keys[short] = event_id
        return short

    def resolve(self, key: str) -> Event | None:
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


def who(update: Update) -> tuple[int | None, int | None]:
    """(subscriber id, chat id): a person in a private chat, the group itself in a group."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None:
        return (user.id if user else None), None
    if chat.type == ChatType.PRIVATE:
        return (user.id if user else chat.id), chat.id
    return chat.id, chat.id


def is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


async def reply(update: Update, context: Context, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Send `text` (Telegram HTML) to the chat the update came from."""
    chat = update.effective_chat
    if chat is None:
        return
    await context.bot.send_message(
        chat_id=chat.id, text=clip(text), parse_mode=ParseMode.HTML, reply_markup=keyboard,
        link_preview_options=_NO_PREVIEW,
    )


async def show(
    update: Update, context: Context, text: str, keyboard: InlineKeyboardMarkup | None = None, *, edit: bool = False
) -> None:
    """Answer a button press: edit the message it belongs to (`edit`), else send a new one."""
    query = update.callback_query
    if edit and query is not None and isinstance(query.message, Message):
        try:
            await query.message.edit_text(clip(text), parse_mode=ParseMode.HTML, reply_markup=keyboard,
                                          link_preview_options=_NO_PREVIEW)
        except BadRequest as exc:
            if "not modified" not in exc.message:  # the same button pressed twice: nothing to change
                raise
        return
    await reply(update, context, text, keyboard)


async def answer(query: CallbackQuery | None, text: str | None = None) -> None:
    """Stop the button's spinner (Telegram wants an answer to every press)."""
    if query is not None:
        await query.answer(text=text[:200] if text else None)


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """Drop whole lines from the end until Telegram's limit is met (lines are self-contained HTML)."""
    if telegram_length(text) <= limit:
        return text
    lines = text.split("\n")
    while len(lines) > 1 and telegram_length("\n".join([*lines, "…"])) > limit:
        lines.pop()
    return "\n".join([*lines, "…"]) if len(lines) > 1 else esc(text[: limit - 1]) + "…"


def args_text(context: Context, limit: int = 200) -> str:
    return " ".join(context.args or [])[:limit].strip()


# -- how an event reads -------------------------------------------------------------------------------


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


def card(event: Event, lang: str, now: datetime | None = None) -> str:
    """The event in one message: past `now`'s accreditation deadline, without the accreditation."""
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
    if telegram_length(text) > TEXT_LIMIT:  # many speakers: names only here, the Speakers button has the rest
        short = [line if not line.startswith("• <b>") else line.split(" — ")[0] for line in lines]
        text = "\n".join(short)
    return clip(text)


def card_keyboard(services: Services, event: Event, lang: str, *, subscribed: bool, private: bool
                  ) -> InlineKeyboardMarkup:
    key = services.key(event.id)
    rows = [
        [InlineKeyboardButton(t("btn_speakers", lang), callback_data=f"sp:{key}"),
         InlineKeyboardButton(t("btn_live", lang), callback_data=f"lv:{key}")],
        [InlineKeyboardButton(t("btn_calendar", lang), callback_data=f"ics:{key}")],
    ]
    if private:
        rows.append([InlineKeyboardButton(t("btn_unremind" if subscribed else "btn_remind", lang),
                                          callback_data=f"{'uns' if subscribed else 'sub'}:{key}")])
    else:  # reminders come by direct message: the button opens the private chat on this event
        rows.append([InlineKeyboardButton(t("btn_remind", lang),
                                          url=f"https://t.me/{services.bot_username}?start=event_{key}")])
    return InlineKeyboardMarkup(rows)


def back_keyboard(services: Services, event: Event, lang: str) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(t("btn_back", lang), callback_data=f"ev:{services.key(event.id)}")
    return InlineKeyboardMarkup([[button]])


def event_buttons(services: Services, events: Sequence[Event], lang: str) -> list[list[InlineKeyboardButton]]:
    rows = []
    for event in events:
        title = view(event, lang).title
        label = title if len(title) <= 48 else title[:47] + "…"
        rows.append([InlineKeyboardButton(label, callback_data=f"ev:{services.key(event.id)}")])
    return rows


def list_line(event: Event, lang: str, index: int) -> str:
    shown = view(event, lang)
    start = shown.start
    when = t("list_when", lang, date=start.date, year=start.year, time=start.time, gmt=start.gmt)
    return f"{index}. <b>{esc(shown.title)}</b>\n    {when}"


def subscribed_to(services: Services, update: Update, event: Event) -> bool:
    owner, _ = who(update)
    return owner is not None and services.chats.wants(owner, event.id)


__all__ = ["Context", "Services", "answer", "card", "card_keyboard", "reply", "show", "who"]

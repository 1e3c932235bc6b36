"""The chat bot's reads and writes: events as people ask for them, subscribers, their languages and subscriptions."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utcnow
from bot.domain import STORED, Event, Platform
from bot.storage.tables import EventRow, SubscriberRow, SubscriptionRow


@dataclass(frozen=True, kw_only=True)
class Subscriptions:
    all_events: bool
    event_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Stats:
    people: int  # everyone who talked to the bot
    subscribed: int  # active people with at least one subscription
    inactive: int  # blocked the bot
    by_lang: dict[str, int]  # subscribed people per language


_SCHEDULED = "scheduled"
# What people may see of an event. The status column says "withdrawn" for a withdrawn event (bot/storage/events.py).
_PUBLIC = (EventRow.status.not_in(("draft", "withdrawn")),)
LANG_MAP = 200_000  # people whose language is kept in memory
TELEGRAM = Platform.TELEGRAM


class ChatStore:
    """One transaction per method; parsed events are cached by content hash, so a reply parses nothing twice."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._events: dict[str, tuple[str, Event]] = {}
        self._langs: dict[tuple[Platform, int], str] = {}
        self._memo: dict[str, tuple[float, datetime, datetime, Event | None]] = {}
        self._all_langs: bool | None = None  # None: not loaded yet; False: too many people to keep
        self.memo_seconds = 2.0

    # -- events -----------------------------------------------------------------------------------

    def _parse(self, row: Any) -> Event:
        cached = self._events.get(row.id)
        if cached is not None and cached[0] == row.content_hash:
            return cached[1]
        event = Event.model_validate(row.data, context=STORED)
        self._events[row.id] = (row.content_hash, event)
        return event

    def event(self, event_id: str) -> Event | None:
        """A public event (not withdrawn, not a draft), or None."""
        with self.sessions() as session:
            row = session.execute(
                select(EventRow.id, EventRow.content_hash, EventRow.data).where(EventRow.id == event_id, *_PUBLIC)
            ).first()
            return self._parse(row) if row else None

    def event_ids(self) -> list[str]:
        with self.sessions() as session:
            return list(session.scalars(select(EventRow.id).where(*_PUBLIC)).all())

    def upcoming(self, now: datetime, offset: int = 0, limit: int = 5) -> tuple[list[Event], int]:
        """Scheduled events not yet over, soonest first: one page, and how many there are in all."""
        where = (EventRow.end_at > now, EventRow.status == _SCHEDULED)
        with self.sessions() as session:
            total = session.scalar(select(func.count()).select_from(EventRow).where(*where)) or 0
            rows = session.execute(
                select(EventRow.id, EventRow.content_hash, EventRow.data).where(*where)
                .order_by(EventRow.start_at, EventRow.id).offset(offset).limit(limit)
            ).all()
            return [self._parse(row) for row in rows], total

    def next_event(self, now: datetime) -> Event | None:
        """The next scheduled event to start (remembered for `memo_seconds`, or until it starts)."""
        return self._first("next", now, EventRow.start_at, lambda event: event.start)

    def live_or_next(self, now: datetime) -> Event | None:
        """The event running now, else the next one to start (remembered likewise, or until it ends)."""
        return self._first("live", now, EventRow.end_at, lambda event: event.end)

    def _first(self, name: str, now: datetime, after: Any, until: Callable[[Event], datetime]) -> Event | None:
        """The first scheduled event by start whose `after` column is past `now`.

        /next and /live are the most frequent questions and their answer changes only when an event starts,
        ends or is edited: it is kept for a couple of seconds (an edit shows within `memo_seconds`).
        """
        hit, event = self.remembered(name, now)
        if hit:
            return event
        with self.sessions() as session:
            row = session.execute(
                select(EventRow.id, EventRow.content_hash, EventRow.data)
                .where(after > now, EventRow.status == _SCHEDULED)
                .order_by(EventRow.start_at, EventRow.id).limit(1)
            ).first()
            found = self._parse(row) if row else None
        horizon = until(found) if found is not None else now + timedelta(seconds=self.memo_seconds)
        self._memo[name] = (time.monotonic() + self.memo_seconds, now, horizon, found)
        return found

    def remembered(self, name: str, now: datetime) -> tuple[bool, Event | None]:
        """What `next_event` ("next") or `live_or_next` ("live") would answer, when memory alone can say: (True,
        the answer), else (False, None). It touches no database: a front end may ask on its event loop."""
        memo = self._memo.get(name)
        if memo is not None:
            expires, asked, valid_until, event = memo
            if time.monotonic() < expires and asked <= now < valid_until:
                return True, event
        return False, None

    def all_events(self) -> list[Event]:
        with self.sessions() as session:
            rows = session.execute(
                select(EventRow.id, EventRow.content_hash, EventRow.data).where(*_PUBLIC)
                .order_by(EventRow.start_at, EventRow.id)
            ).all()
            return [self._parse(row) for row in rows]

    # -- people ---------------------------------------------------------------------------------------
    # A person (or a group) is known by their messenger and that messenger's id for them: `user_id` alone names a
    # Telegram person, as it did before MAX.

    def known_lang(self, user_id: int, *, messenger: Platform = TELEGRAM) -> str | None:
        """What `lang` would answer, when memory alone can say ("" for someone not met yet); None: ask `lang`."""
        hit = self._langs.get((messenger, user_id))
        if hit is not None:
            return hit
        return "" if self._all_langs else None

    def lang(self, user_id: int, *, messenger: Platform = TELEGRAM) -> str | None:
        """The language a person chose, or None for someone the bot has not met."""
        key = (messenger, user_id)
        if self._all_langs is None:
            self._load_langs()
        if key in self._langs:
            return self._langs[key] or None
        if self._all_langs:
            return None  # every person the bot has met is in the map: this one is new
        with self.sessions() as session:
            lang = session.scalar(select(SubscriberRow.lang).where(*_person(messenger, user_id)))
        if len(self._langs) > LANG_MAP:  # a cache, not a copy of the table
            self._langs.clear()
        self._langs[key] = lang or ""  # "" = not met yet; remember() and subscribe() fill it in
        return lang

    def _load_langs(self) -> None:
        """Everyone's language in memory, read once (only one chat bot answers a messenger's updates, and it is the
        only writer of its people), so a message from someone new costs no query; past LANG_MAP people, each is
        looked up instead."""
        with self.sessions() as session:
            count = session.scalar(select(func.count()).select_from(SubscriberRow)) or 0
            if count > LANG_MAP:
                self._all_langs = False
                return
            rows = session.execute(select(SubscriberRow.messenger, SubscriberRow.user_id, SubscriberRow.lang))
            self._langs.update({(Platform(messenger), user_id): lang for messenger, user_id, lang in rows})
        self._all_langs = True

    def remember(self, user_id: int, chat_id: int, lang: str, *, messenger: Platform = TELEGRAM) -> None:
        """Record a person (and their language); someone who had blocked the bot and writes again is active."""
        with self.sessions.begin() as session:
            self._upsert(session, messenger, user_id, chat_id, lang)
        self._langs[messenger, user_id] = lang

    def _upsert(self, session: Session, messenger: Platform, user_id: int, chat_id: int,
                lang: str | None = None) -> SubscriberRow:
        row = session.get(SubscriberRow, (messenger.value, user_id))
        if row is None:
            row = SubscriberRow(messenger=messenger.value, user_id=user_id, chat_id=chat_id, lang=lang or "en",
                                active=True, all_events=False, created_at=utcnow())
            session.add(row)
            session.flush()
        else:
            row.chat_id, row.active = chat_id, True
            if lang:
                row.lang = lang
        return row

    def subscribe(self, user_id: int, chat_id: int, lang: str, event_id: str | None, *,
                  messenger: Platform = TELEGRAM) -> bool:
        """Subscribe to one event, or to all (None); False if it was already so."""
        self._langs[messenger, user_id] = lang
        with self.sessions.begin() as session:
            row = self._upsert(session, messenger, user_id, chat_id, lang)
            if event_id is None:
                was, row.all_events = row.all_events, True
                return not was
            if session.get(SubscriptionRow, (messenger.value, user_id, event_id)) is not None:
                return False
            session.add(SubscriptionRow(messenger=messenger.value, user_id=user_id, event_id=event_id))
            return True

    def unsubscribe(self, user_id: int, event_id: str | None, *, messenger: Platform = TELEGRAM) -> bool:
        """Stop one event's reminders, or all of them (None); False if there was nothing to stop."""
        with self.sessions.begin() as session:
            row = session.get(SubscriberRow, (messenger.value, user_id))
            if row is None:
                return False
            query = delete(SubscriptionRow).where(*_subscription(messenger, user_id))
            if event_id is not None:
                query = query.where(SubscriptionRow.event_id == event_id)
            removed = bool(getattr(session.execute(query), "rowcount", 0))
            if event_id is None:
                removed = removed or row.all_events
                row.all_events = False
            return removed

    def subscriptions(self, user_id: int, *, messenger: Platform = TELEGRAM) -> Subscriptions:
        with self.sessions() as session:
            all_events = bool(session.scalar(select(SubscriberRow.all_events).where(*_person(messenger, user_id))))
            ids = session.scalars(
                select(SubscriptionRow.event_id).join(EventRow, EventRow.id == SubscriptionRow.event_id)
                .where(*_subscription(messenger, user_id)).order_by(EventRow.start_at)
            ).all()
            return Subscriptions(all_events=all_events, event_ids=tuple(ids))

    def wants(self, user_id: int, event_id: str, *, messenger: Platform = TELEGRAM) -> bool:
        """Does this person get reminders of this event? One query, and none for someone not met yet."""
        if self.lang(user_id, messenger=messenger) is None:  # not met yet (usually answered from memory)
            return False
        with self.sessions() as session:
            row = session.execute(
                select(SubscriberRow.all_events,
                       select(SubscriptionRow.user_id).where(*_subscription(messenger, user_id),
                                                             SubscriptionRow.event_id == event_id).exists())
                .where(*_person(messenger, user_id))
            ).first()
            return bool(row and (row[0] or row[1]))

    def deactivate(self, user_ids: list[int], *, messenger: Platform = TELEGRAM) -> None:
        """People who blocked the bot: no more reminders until they write again."""
        if not user_ids:
            return
        with self.sessions.begin() as session:
            session.execute(update(SubscriberRow).where(SubscriberRow.messenger == messenger.value,
                                                        SubscriberRow.user_id.in_(user_ids)).values(active=False))

    def stats(self) -> Stats:
        """Everyone, on every messenger."""
        with self.sessions() as session:
            has_sub = select(SubscriptionRow.user_id).where(SubscriptionRow.messenger == SubscriberRow.messenger,
                                                            SubscriptionRow.user_id == SubscriberRow.user_id).exists()
            subscribed = or_(SubscriberRow.all_events.is_(True), has_sub)
            people = session.scalar(select(func.count()).select_from(SubscriberRow)) or 0
            inactive = session.scalar(
                select(func.count()).select_from(SubscriberRow).where(SubscriberRow.active.is_(False))
            ) or 0
            rows = session.execute(
                select(SubscriberRow.lang, func.count())
                .where(SubscriberRow.active.is_(True), subscribed).group_by(SubscriberRow.lang)
            )
            langs = Counter({lang: count for lang, count in rows})
            return Stats(people=people, subscribed=sum(langs.values()), inactive=inactive, by_lang=dict(langs))


def _person(messenger: Platform, user_id: int) -> tuple[Any, ...]:
    return SubscriberRow.messenger == messenger.value, SubscriberRow.user_id == user_id


def _subscription(messenger: Platform, user_id: int) -> tuple[Any, ...]:
    return SubscriptionRow.messenger == messenger.value, SubscriptionRow.user_id == user_id

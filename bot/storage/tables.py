"""The database schema (SQLAlchemy 2): events, posts, deliveries, subscribers, reminders, dashboard accounts, reach."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from bot.clock import utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back aware datetimes (SQLite would otherwise return naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(Text, default="")
    # "file" (an event file is its source of truth) or "dashboard" (made or taken over there: files are ignored).
    origin: Mapped[str] = mapped_column(String(20), default="file")
    # Why the event was withdrawn (its file removed, say); None while it is live. Withdrawn events keep their rows.
    withdrawn: Mapped[str | None] = mapped_column(Text, default=None)
    # Stream links set at go-live (dashboard, Telegram, CLI): laid over the event's own `live`, kept across
    # re-imports of its file, so that nobody has to edit the file an hour before the start.
    live_links: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The configuration (campaign, templates, targets) its posts were last planned and rendered with: an event
    # planned with another one is planned again (bot.preparation.fingerprint).
    planned_with: Mapped[str | None] = mapped_column(String(64), default=None)
    # Recording links set from the dashboard, the CLI or Telegram: laid over the event's own `recording` and kept
    # across re-imports of its file, like the stream links.
    recording_links: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PlannedPostRow(Base):
    __tablename__ = "planned_posts"
    __table_args__ = (
        UniqueConstraint("event_id", "step_id", "target", name="uq_planned_post"),
        # What is due, and when the next one is: the scheduler's queries, answered from these two indexes.
        Index("ix_planned_posts_state_due", "state", "due_at"),
        Index("ix_planned_posts_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(40))
    platform: Mapped[str] = mapped_column(String(20))
    lang: Mapped[str] = mapped_column(String(3))
    catch_up: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    post_id: Mapped[str | None] = mapped_column(Text, default=None)
    link: Mapped[str | None] = mapped_column(Text, default=None)
    # For a live post: the announcement it pinned on Telegram, to unpin once the event is over.
    pinned_message_id: Mapped[str | None] = mapped_column(Text, default=None)
    # The ids of the parts already published, so that a retry of a half-sent thread sends only the rest.
    parts: Mapped[list[str]] = mapped_column(JSON, default=list)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)  # asked for by an organiser, not a campaign step
    actor: Mapped[str | None] = mapped_column(String(80), default=None)  # who last asked for it
    # Sign-off (a campaign step with `approval: required`): "none", "pending" or "approved", by whom and when;
    # when the approvers were last asked. A change to the event puts an approved post back to pending.
    approval: Mapped[str] = mapped_column(String(20), default="none")
    approved_by: Mapped[str | None] = mapped_column(String(80), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    approval_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # A correction: the published post (its planned post's id) this one edits after the event changed.
    edits: Mapped[int | None] = mapped_column(Integer, default=None)
    # The post as it will go out, rendered when the plan was made (RenderedPost as JSON), or why it cannot be,
    # and the inputs (event version, configuration) it was rendered from: the sender sends it while they hold.
    # Deferred: only sending and one event's timeline read the text.
    rendered: Mapped[str | None] = mapped_column(Text, default=None, deferred=True)
    render_error: Mapped[str | None] = mapped_column(Text, default=None)
    rendered_for: Mapped[str | None] = mapped_column(String(100), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class DeliveryRow(Base):
    """One attempt to publish one post to one target, and what came of it."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    planned_post_id: Mapped[int | None] = mapped_column(
        ForeignKey("planned_posts.id", ondelete="SET NULL"), index=True, default=None
    )
    event_id: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(40))
    platform: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    post_id: Mapped[str | None] = mapped_column(Text, default=None)
    link: Mapped[str | None] = mapped_column(Text, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    error_kind: Mapped[str | None] = mapped_column(String(40), default=None)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    actor: Mapped[str | None] = mapped_column(String(80), default=None)  # the organiser who asked, if one did


class SubscriberRow(Base):
    """A person, or a group, who talked to the chat bot on one messenger: ids are each messenger's own, so the
    messenger is part of the key (rows made before MAX are Telegram's)."""

    __tablename__ = "subscribers"

    messenger: Mapped[str] = mapped_column(String(10), primary_key=True, default="telegram")
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    lang: Mapped[str] = mapped_column(String(3), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    all_events: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def _subscriber() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["messenger", "user_id"], ["subscribers.messenger", "subscribers.user_id"],
                                ondelete="CASCADE")


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (_subscriber(),)

    messenger: Mapped[str] = mapped_column(String(10), primary_key=True, default="telegram")
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)


class ReminderRow(Base):
    """One reminder to one person: unique per (person, event, step), so nobody gets the same one twice."""

    __tablename__ = "reminder_deliveries"
    __table_args__ = (
        _subscriber(),
        UniqueConstraint("messenger", "user_id", "event_id", "step_id", name="uq_reminder_delivery"),
        Index("ix_reminder_deliveries_state_next", "state", "next_attempt_at"),
        Index("ix_reminder_deliveries_event_step", "event_id", "step_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    messenger: Mapped[str] = mapped_column(String(10), default="telegram")
    user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    step_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    lang: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BroadcastRow(Base):
    """A campaign step whose personal reminders were queued (once per event and step)."""

    __tablename__ = "reminder_broadcasts"

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    step_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    total: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# The chat bot asks "what is next?" on every /next, /live and /events: a covering index answers from the index
# alone, without reading each event's JSON (tens of KB per row) — about 7 ms down to 0.3 ms with 1,000 events.
EVENTS_BY_TIME = Index("ix_events_when", EventRow.start_at, EventRow.end_at, EventRow.status, EventRow.id,
                       EventRow.content_hash)


# Reach (bot/storage/reach.py is the only module that reads or writes these).


class ReachReadingRow(Base):
    """One reading of a published post's reach: due at a time after it went out (1 h, 24 h, 7 days: `slot`), read
    now on request (`refresh@...`), or received from the platform (Telegram's reaction counts: `reactions@...`)."""

    __tablename__ = "reach_readings"
    __table_args__ = (
        UniqueConstraint("planned_post_id", "slot", name="uq_reach_reading"),
        Index("ix_reach_readings_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    planned_post_id: Mapped[int] = mapped_column(ForeignKey("planned_posts.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(80), index=True)
    target: Mapped[str] = mapped_column(String(40))
    platform: Mapped[str] = mapped_column(String(20))
    slot: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))  # due, claimed, retrying, done, failed
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    metrics: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # views, likes, reposts, replies...
    cost: Mapped[str | None] = mapped_column(String(20), default=None)  # US dollars billed for it (X), as text
    error: Mapped[str | None] = mapped_column(Text, default=None)


class CounterRow(Base):
    """What the bot counts itself, per event and day: clicks through its /go/ links (per target and link), public
    page views (per language), calendar downloads (per where)."""

    __tablename__ = "reach_counters"

    event_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(20), primary_key=True)  # click, page_view, calendar
    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD (UTC)
    count: Mapped[int] = mapped_column(Integer, default=0)


# The dashboard's accounts (bot/storage/accounts.py is the only module that reads or writes these).


class WebUserRow(Base):
    """A dashboard user: a role, an argon2 hash (none: Telegram sign-in only), optionally a Telegram id."""

    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(Text, default=None)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True, default=None)
    # Made from ANNOUNCE_BOT_WEB__PASSWORD / password_file at start-up, and removed when that is unset.
    from_settings: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebSessionRow(Base):
    """A signed-in browser: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LoginFailureRow(Base):
    """Failed sign-ins counted per client address or per account name, and until when the next one waits."""

    __tablename__ = "web_login_failures"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    blocked_until: Mapped[datetime] = mapped_column(UTCDateTime())


class WebKeyRow(Base):
    """Keys made once per installation (the session cookies' signing key), shared by every replica."""

    __tablename__ = "web_keys"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

"""Subscribers on two messengers, on every supported database: one id on Telegram and on MAX is two people, each
messenger's sender claims its own people's reminders, and migration 0010 keeps the rows made before as Telegram's
(and going back keeps Telegram's only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from bot.domain import Event, Platform
from bot.storage import Store, open_database
from bot.storage.chat import ChatStore
from bot.storage.database import alembic_config, create
from bot.storage.reminders import ReminderQueue
from bot.storage.tables import Base

NOW = datetime(2024, 11, 27, 7, 0, tzinfo=UTC)
TABLES = ("subscribers", "subscriptions", "reminder_deliveries")
MAX = Platform.MAX


def test_one_id_on_two_messengers_is_two_people(store: Store, reference_event: Event) -> None:
    store.sync_event(reference_event, "events/x.yaml", [], now=NOW - timedelta(days=30))
    chats = ChatStore(store.sessions)
    assert chats.subscribe(42, 42, "en", reference_event.id)
    assert chats.subscribe(42, 5_000_000_042, "ru", None, messenger=MAX)  # not "already": someone else
    assert chats.subscriptions(42).event_ids == (reference_event.id,) and not chats.subscriptions(42).all_events
    assert chats.subscriptions(42, messenger=MAX).all_events
    assert (chats.lang(42), chats.lang(42, messenger=MAX)) == ("en", "ru")
    queue = ReminderQueue(store.sessions)
    assert queue.enqueue(reference_event.id, "reminder-1h", "reminder", NOW, NOW) == 2
    (on_max,) = queue.claim(NOW, "max-sender", 10, MAX)
    assert (on_max.messenger, on_max.chat_id, on_max.lang) == (MAX, 5_000_000_042, "ru")
    assert queue.sending(on_max.id, "max-sender")
    # The Telegram sender starting meanwhile recovers its own rows only: MAX's send stays in flight, not unknown.
    assert queue.recover(messenger=Platform.TELEGRAM) == (0, 0)
    assert queue.open_count(MAX) == 1 and queue.open_count(Platform.TELEGRAM) == 1
    chats.deactivate([42], messenger=MAX)
    assert chats.stats().inactive == 1 and chats.stats().people == 2
    assert chats.unsubscribe(42, None, messenger=MAX) and chats.subscriptions(42).event_ids == (reference_event.id,)


def _migrate(url: str, step: str, revision: str) -> None:
    """Upgrade or downgrade as the bot does (on SQLite, with foreign keys enforced)."""
    engine = create(url)
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, step)(config, revision)
    engine.dispose()


def test_the_migration_keeps_telegram_s_rows_and_goes_back(database_url: str, reference_event: Event) -> None:
    store = Store(open_database(database_url))
    store.sync_event(reference_event, "events/x.yaml", [], now=NOW - timedelta(days=30))
    chats = ChatStore(store.sessions)
    chats.subscribe(42, 42, "ru", reference_event.id)
    chats.subscribe(7, 7, "en", None)
    chats.subscribe(42, 5_000_000_042, "en", None, messenger=MAX)
    queue = ReminderQueue(store.sessions)
    assert queue.enqueue(reference_event.id, "reminder-1d", "reminder", NOW, NOW) == 3
    store.engine.dispose()

    _migrate(database_url, "downgrade", "0009")  # back: Telegram's people only, keyed by their id alone
    engine = create(database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT user_id, lang FROM subscribers ORDER BY user_id")).all() == [
            (7, "en"), (42, "ru")]
        assert connection.execute(text("SELECT count(*) FROM reminder_deliveries")).scalar() == 2
        first = connection.execute(text("SELECT max(id) FROM reminder_deliveries")).scalar()
    engine.dispose()

    _migrate(database_url, "upgrade", "head")
    engine = create(database_url)
    with engine.connect() as connection:
        differences = [d for d in compare_metadata(MigrationContext.configure(connection), Base.metadata)
                       if any(table in repr(d) for table in TABLES)]
        assert differences == []
        assert set(connection.execute(text("SELECT messenger FROM reminder_deliveries")).scalars()) == {"telegram"}
    engine.dispose()
    store = Store(open_database(database_url))
    chats = ChatStore(store.sessions)
    assert chats.subscriptions(42).event_ids == (reference_event.id,) and chats.lang(42) == "ru"
    assert chats.subscriptions(7).all_events and chats.lang(42, messenger=MAX) is None
    assert chats.subscribe(42, 5_000_000_042, "en", None, messenger=MAX)
    queue = ReminderQueue(store.sessions)
    assert queue.enqueue(reference_event.id, "reminder-1h", "reminder", NOW, NOW) == 3
    rows = queue.claim(NOW, "w", 10)
    assert len(rows) == 5 and min(r.id for r in rows if r.step_id == "reminder-1h") > first  # ids go on
    store.engine.dispose()

"""The front ends' read facade: a public event's page, asked for in bursts, is read from the database once per
moment, never stale after a change this process made, and at most FRESH seconds behind another process's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from bot.config import load_config
from bot.domain import Event
from bot.planning import plan
from bot.preparation import targets
from bot.queries import FRESH, Queries
from bot.storage import Store, open_database
from tests.conftest import CONFIG_DIR

CONFIG = load_config(CONFIG_DIR)
IMPORTED = datetime(2024, 9, 1, tzinfo=UTC)
WITHDRAWN = datetime(2024, 9, 2, tzinfo=UTC)


class Monotonic:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def queries_counted(store: Store) -> list[str]:
    """The statements the store's engine runs from now on (watched, not changed)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", note)
    return seen


@pytest.fixture
def with_event(database_url: str, reference_event: Event) -> Store:
    """The reference event stored, as an import would."""
    stored = Store(open_database(database_url))
    stored.sync_event(reference_event, "events/x.yaml", plan(reference_event, CONFIG.campaign, targets(CONFIG)),
                      now=IMPORTED)
    return stored


async def test_a_burst_of_asks_reads_the_database_once(with_event: Store, reference_event: Event) -> None:
    clock = Monotonic()
    queries = Queries(with_event, monotonic=clock)
    seen = queries_counted(with_event)
    first = await queries.public_event(reference_event.id)
    asked = len(seen)
    assert first is not None and asked > 0
    for _ in range(20):
        clock.now += FRESH / 100
        assert await queries.public_event(reference_event.id) is first
    assert len(seen) == asked  # nothing more asked of the database
    clock.now += FRESH
    assert await queries.public_event(reference_event.id) is first  # asked again: the same version
    assert len(seen) > asked


async def test_a_change_made_here_shows_at_once(with_event: Store, reference_event: Event) -> None:
    queries = Queries(with_event, monotonic=Monotonic())  # time stands still: only the commit can tell
    assert await queries.public_event(reference_event.id) is not None
    with_event.withdraw(reference_event.id, "its file was removed", WITHDRAWN)
    assert await queries.public_event(reference_event.id) is None


async def test_a_change_made_by_another_process_shows_within_fresh_seconds(
    with_event: Store, database_url: str, reference_event: Event
) -> None:
    clock = Monotonic()
    queries = Queries(with_event, monotonic=clock)
    assert await queries.public_event(reference_event.id) is not None
    elsewhere = Store(open_database(database_url))  # its own engine, as another process or replica has
    elsewhere.withdraw(reference_event.id, "its file was removed", WITHDRAWN)
    clock.now += FRESH / 2
    assert await queries.public_event(reference_event.id) is not None  # the memo, within its time
    clock.now += FRESH / 2
    assert await queries.public_event(reference_event.id) is None

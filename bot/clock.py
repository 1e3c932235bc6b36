"""Time as the bot tells it: the clock type every part is given (tests inject their own), the wall clock, and how a
moment is written in UTC wherever a person reads one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The wall clock, in UTC: the default of every Clock."""
    return datetime.now(UTC)


def utc_text(moment: datetime) -> str:
    """`2024-11-20 08:00 UTC`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

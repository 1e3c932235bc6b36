"""The clock tests set by hand (the bot's parts take a Clock; see bot/clock.py)."""

from __future__ import annotations

from datetime import datetime


class Clock:
    """Says what `now` was set to; a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

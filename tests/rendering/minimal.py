"""A minimal event, for the rendering tests: only the fields an event file must have, as the loader takes them."""

from __future__ import annotations

from bot.domain import Event


def minimal_event(**changes: object) -> Event:
    """The fields an event file must have, in English only, in Berlin; `changes` replace or add fields."""
    fields: dict[str, object] = {
        "id": "minimal", "title": "Cities after the Pandemic", "organiser": "the Urban Forum",
        "topic": "the future of cities", "start": "2025-03-14 18:00", "end": "2025-03-14 20:00",
        "timezone": "Europe/Berlin", "venue": {"name": "Town Hall", "address": "Berlin"},
    }
    return Event.model_validate({**fields, **changes})

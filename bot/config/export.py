"""Events as YAML files: the export of any event, and a new event file drafted from an existing one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml

from bot.domain import Event, EventStatus

# The fields a new event must not inherit from the one it is drafted from (they are this event's own), and
# those that are probably its own too: kept, but marked for the organiser to check.
CLEARED = ("live", "recording", "report", "report_title", "cover", "url", "past", "previous_start")
NEW = ("id", "start", "end")  # always the new event's own: it has no value until the organiser gives one
TO_REVIEW = ("title", "series", "topic", "lead", "description", "speakers", "moderator", "hashtags", "venue",
             "accreditation", "format", "languages")
ORDER = ("id", "lang", "status", "past", "series", "title", "organiser", "format", "topic", "lead", "description",
         "start", "end", "timezone", "previous_start", "venue", "speakers", "moderator", "languages", "accreditation",
         "live", "url", "hashtags", "cover", "report_title", "report", "recording")


class _Dumper(yaml.SafeDumper):
    """Block scalars for long or multi-line texts, so that the file reads like one written by hand."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value or len(value) > 100:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _text)


def event_data(event: Event) -> dict[str, Any]:
    """The event as the fields of its file, in the usual order, times as wall-clock times in its zone."""
    data = event.model_dump(mode="json", exclude_defaults=True)
    for key in ("start", "end", "previous_start"):
        moment: datetime | None = getattr(event, key)
        if moment is not None:
            data[key] = moment.astimezone(event.zone).strftime("%Y-%m-%d %H:%M")
    if event.deadline is not None:  # a wall-clock time in the event's zone, as the file writes start and end
        data["accreditation"]["deadline"] = event.deadline.astimezone(event.zone).strftime("%Y-%m-%d %H:%M")
    data["status"] = event.status.value
    return {key: data[key] for key in ORDER if key in data}


def event_yaml(event: Event, *, header: str | None = None) -> str:
    """The event as a file `announce-bot` reads back to the same event."""
    text = yaml.dump(event_data(event), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120)
    return (f"# {header}\n" if header else "") + text


def draft_from(source: Event, event_id: str, start: datetime, end: datetime) -> str:
    """A new event file copied from `source`: its structure kept, what must be new cleared (live links, report,
    cover, page), the rest marked `# CHECK` so that nothing of the old event goes out unnoticed."""
    cleared = {key: Event.model_fields[key].get_default(call_default_factory=True) for key in CLEARED}
    draft = source.model_copy(update={"id": event_id, "start": start, "end": end, **cleared})
    text = event_yaml(draft, header=f"Drafted from {source.id}: every field marked CHECK still says what "
                                    f"{source.id} said. `announce-bot validate` warns while texts are unchanged.")
    lines = []
    for line in text.splitlines():
        key = line.split(":", 1)[0]
        if key in TO_REVIEW:
            line += f"  # CHECK: copied from {source.id}"
        elif key in ("start", "end"):
            line += "  # CHECK: the new date"
        lines.append(line)
    lines.append(f"# Cleared, as they belong to {source.id} only: {', '.join(CLEARED)}")
    return "\n".join(lines) + "\n"


def copied_fields(source: Event) -> dict[str, Any]:
    """What a new event duplicated from `source` starts with (the dashboard's "Duplicate"): its fields, as
    `event_data` gives them, without those it must not inherit (`NEW`, `CLEARED`); a draft."""
    data = {key: value for key, value in event_data(source).items() if key not in (*NEW, *CLEARED)}
    data["status"] = EventStatus.DRAFT.value
    return data


def repeated(data: dict[str, Any], source: dict[str, Any]) -> list[str]:
    """The fields of `TO_REVIEW` in which an event's data still says what its source's said (both in one shape,
    such as `event_data`'s): what the organiser should look at before the copy goes out."""
    return [key for key in TO_REVIEW if key in source and data.get(key) == source[key]]

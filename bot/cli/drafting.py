"""`event new`, `event export` and `db upgrade`: drafting event files, exporting any event, migrating."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from bot.cli.common import State, app, console, errors, fail, state_of
from bot.cli.listing import event_of
from bot.cli.users import users
from bot.domain import SLUG, Event, EventStatus

events_app = typer.Typer(help="Events: draft a new event file, export any event as YAML.", no_args_is_help=True)
app.add_typer(events_app, name="event")


@events_app.command("new")
def event_new(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="ID", help="the new event's id (lowercase, digits, hyphens)")],
    source: Annotated[str | None, typer.Option("--from", help="copy the structure of this event")] = None,
    start: Annotated[datetime | None, typer.Option(help="the start, in the event's time zone (YYYY-MM-DD HH:MM)",
                                                   formats=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"])] = None,
) -> None:
    """Write config/events/ID.yaml: a draft (nothing goes out until its status is scheduled), every field to
    write or to check marked."""
    from bot.config.export import draft_from

    state = state_of(ctx)
    config = state.config
    path = config.events_dir / f"{event_id}.yaml"
    if path.exists():
        errors.print(f"{path} exists already")
        raise typer.Exit(1)
    if not re.fullmatch(SLUG, event_id):
        errors.print(f"{event_id!r} is not an event id: lowercase letters, digits and hyphens, at most 80")
        raise typer.Exit(2)
    base, _ = event_of(state, source) if source else (_blank(), None)
    when = (start.replace(tzinfo=base.zone) if start else
            datetime.now(base.zone).replace(hour=base.start.astimezone(base.zone).hour,
                                            minute=base.start.astimezone(base.zone).minute, second=0, microsecond=0)
            + timedelta(days=28))
    draft = base.model_copy(update={"status": EventStatus.DRAFT})
    text = draft_from(draft, event_id, when, when + (base.end - base.start))
    if source is None:
        text = text.replace(f"Drafted from {base.id}", "A new event").replace(f"copied from {base.id}", "write it")
    config.events_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    console.print(f"wrote {path}: a draft; edit the fields marked CHECK, then set `status: scheduled`")


def _blank() -> Event:
    now = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    return Event.model_validate({
        "id": "new-event", "title": "The event's title", "organiser": "The organisation", "topic": "its topic",
        "start": now, "end": now + timedelta(hours=2), "timezone": "UTC",
        "venue": {"name": "The venue", "address": "Its address"}})


@events_app.command("export")
def event_export(ctx: typer.Context,
                 event_id: Annotated[str, typer.Argument(metavar="ID", help="the event's id")]) -> None:
    """Print any event (from its file or the dashboard) as an event file: `> config/events/ID.yaml` saves it."""
    from bot.config.export import event_yaml

    event, _ = event_of(state_of(ctx), event_id)
    console.out(event_yaml(event), highlight=False, end="")


db = typer.Typer(help="The database: migrations.", no_args_is_help=True)
app.add_typer(db, name="db")
app.add_typer(users, name="user")


@db.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Bring the database schema up to date (`run` does this on start too)."""
    from bot.storage.database import DatabaseUnavailable, upgrade

    state: State = ctx.obj
    try:
        where, version = upgrade(state.config.settings.database.url)
    except DatabaseUnavailable as exc:
        raise fail(exc) from None
    console.print(f"database {where} is at revision {version}")

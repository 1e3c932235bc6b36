"""`announce-bot validate`: settings, campaign, templates, every event file and post, as saving would check them."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.text import Text

from bot.cli.common import app, console, errors, state_of
from bot.domain import Platform

# -- validate -------------------------------------------------------------------------------------------


@app.command()
def validate(ctx: typer.Context) -> None:
    """Check settings, campaign, templates, every event file and every post against the platforms' limits."""
    from bot.config import load_events
    from bot.domain import EventOrigin, with_overlays
    from bot.operations import template_problems
    from bot.preparation import Saved, prepare
    from bot.rendering.checks import copied_texts
    from bot.rendering.renderer import Renderer
    from bot.summaries import synopsis

    state = state_of(ctx)
    config = state.config
    renderer = Renderer(config.templates_dir)
    problems: list[str] = template_problems(config)
    files = load_events(config.events_dir)
    problems += [str(error) for error in files.errors]
    store = state.store(create=False)
    marks = store.marks() if store is not None else {}
    now = datetime.now(UTC)
    checked = 0
    copied = copied_texts(list(files.events.values()))
    warnings = [f"{files.sources[w.event_id]}: {w.field}: {w.message}" for w in copied]
    notes = []
    for event_id, event in files.events.items():
        source, mark = files.sources[event_id], marks.get(event_id)
        if mark is not None and mark.origin is EventOrigin.DASHBOARD:
            warnings.append(f"{source}: ignored, the event {event_id!r} was taken over in the dashboard (edit it "
                            "there, or export it back to a file)")
            continue
        # As importing it now would: every post of the campaign rendered, whether it will go out or not.
        prepared = prepare(with_overlays(event, dict(mark.live_links), dict(mark.recording_links)) if mark else event,
                           config, renderer, now,
                           saved=Saved(start=mark.start, status=mark.status) if mark else None, every=True)
        checked += sum(item.rendered is not None for item in prepared.items)
        problems += [f"{source}: {problem}" for problem in prepared.errors]
        warnings += [f"{source}: {warning}" for warning in prepared.warnings]
        notes += [f"{source}: {note}" for note in prepared.notes if mark is None]
    if not config.settings.web.public_url:
        for name, target in config.settings.targets_of(Platform.DZEN).items():
            if target.route == "rss":
                warnings.append(f"targets.{name}: Dzen needs [web] public_url: without it an item of an event "
                                "without a cover has no image (Dzen fetches the generated card from this app's "
                                "public address)")
    for warning in dict.fromkeys(warnings):
        errors.print(Text(f"! {warning}", style="yellow"))
    for note in notes:
        console.print(f"→ {note}")
    if problems:
        for problem in dict.fromkeys(problems):
            errors.print(Text(f"✗ {problem}", style="red"))
        errors.print(f"{len(problems)} problem(s) found")
        raise typer.Exit(1)
    # What link cards, feeds, calendars and the chat bot say of each event, in each language it is published in.
    langs = dict.fromkeys(t.lang for t in config.settings.targets.values() if t.enabled)
    for event_id, event in files.events.items():
        for lang in langs:
            console.print(Text(f"  {event_id} [{lang}]: {synopsis(event, lang)}"), soft_wrap=True)
    console.print(
        f"✓ config {config.config_dir}: {len(config.settings.targets)} targets, "
        f"{len(config.campaign.steps)} campaign steps, {len(files.events)} events, {checked} posts fit their limits"
        + (f"; {len(set(warnings))} warning(s) to look at" if warnings else "")
    )

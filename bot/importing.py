"""Event files as a source of events: each file all or nothing, a removed file withdraws its event, two files
with one id replace nothing, and an event taken over in the dashboard is no longer read from its file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.config import AppConfig, EventFileCache, load_events
from bot.delivery import fingerprint
from bot.domain import Event, EventOrigin, content_hash, with_overlays
from bot.errors import ConfigError
from bot.planning import plan
from bot.preparation import Prepared, Saved, prepare, targets
from bot.rendering.renderer import Renderer
from bot.storage import EventMark, Store, SyncResult


@dataclass(frozen=True, kw_only=True)
class Withdrawal:
    event_id: str
    reason: str
    cancelled: int  # unsent posts cancelled


@dataclass(kw_only=True)
class ImportReport:
    results: list[SyncResult] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    withdrawn: list[Withdrawal] = field(default_factory=list)  # withdrawn by this import (each reported once)
    ignored: list[tuple[str, Path]] = field(default_factory=list)  # files whose event lives in the dashboard
    # What the organiser is told of the events saved by this import: what happens to steps already past
    # ("announcement goes out now…"), and warnings worth a look; each as (event id, line).
    notes: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def tell(self, prepared: Prepared) -> None:
        """Keep what the organiser is told of one prepared event; its errors, for an event that did not change
        itself (the configuration did), are told as what will not go out: the plan follows the configuration."""
        event_id = prepared.event.id
        self.notes += [(event_id, note) for note in prepared.notes]
        self.warnings += [(event_id, f"will not go out as planned: {problem}") for problem in prepared.errors]
        self.warnings += [(event_id, str(warning)) for warning in prepared.warnings]

    @property
    def changed(self) -> bool:
        return bool(self.withdrawn) or any(r.outcome not in ("unchanged", "ignored") for r in self.results)


class FileSource:
    """What the previous imports saw, kept by a long-lived caller (the operations layer) between imports: the
    files' bytes (an unchanged file is not parsed again) and, per event, the last sync that found nothing to
    do. An event whose file, configuration and stored row are all as they were then is not synced again:
    with a thousand files, re-syncing them all every few seconds kept a core busy."""

    def __init__(self) -> None:
        self.files = EventFileCache()
        self._idle: dict[str, tuple[Event, Path, AppConfig, tuple[object, ...]]] = {}

    def unchanged(self, event: Event, path: Path, config: AppConfig, mark: tuple[object, ...] | None) -> bool:
        seen = self._idle.get(event.id)
        return seen is not None and seen[0] is event and seen[1] == path and seen[2] is config and seen[3] == mark

    def synced(self, result: SyncResult, event: Event, path: Path, config: AppConfig,
               mark: tuple[object, ...] | None) -> None:
        if result.outcome == "unchanged" and mark is not None:  # it wrote nothing: the row is still `mark`
            self._idle[event.id] = (event, path, config, mark)
        else:
            self._idle.pop(event.id, None)  # the next import syncs it once more, and finds it unchanged


def import_events(config: AppConfig, store: Store, now: datetime, source: FileSource | None = None,
                  renderer: Renderer | None = None) -> ImportReport:
    """Read every event file and sync it; each file is all or nothing, and one bad file stops no other.

    An event whose file, configuration or stored version changed is prepared as when it is saved anywhere
    (bot.preparation): every post rendered and checked, its problems reported with the file, and a refused
    version not stored (the last good one stays). A stored event whose file is gone, or whose file now defines
    another id, is withdrawn (its unsent posts cancelled with the reason); restoring the file restores it. An
    event whose file cannot be read, or whose id two files claim, stays as stored. If the events folder itself
    is missing, nothing is withdrawn. With `source` (kept by the caller between imports), only what changed is
    parsed and synced again.
    """
    if not config.events_dir.is_dir():
        problem = ConfigError(str(config.events_dir), ["no such folder: no event file was read, none withdrawn"])
        return ImportReport(errors=[problem])
    files = load_events(config.events_dir, source.files if source else None)
    report = ImportReport(errors=list(files.errors))
    wanted = targets(config)
    stored = store.marks()
    delivery = config.settings.delivery
    made_with = fingerprint(config)
    renderer = renderer or Renderer(config.templates_dir)
    for event_id, event in files.events.items():
        path = files.sources[event_id]
        mark = stored.get(event_id)
        if mark is not None and mark.origin is EventOrigin.DASHBOARD:
            report.ignored.append((event_id, path))
            continue
        if source is not None and source.unchanged(event, path, config, mark.mark if mark else None):
            report.results.append(SyncResult(event_id=event_id, outcome="unchanged"))
            continue
        merged = with_overlays(event, dict(mark.live_links), dict(mark.recording_links)) if mark else event
        if mark is not None and mark.version == content_hash(merged) and mark.planned_with == made_with:
            items = plan(event, config.campaign, wanted, now)  # as planned and rendered before: nothing to tell
        else:
            saved = Saved(start=mark.start, status=mark.status) if mark is not None else None
            prepared = prepare(merged, config, renderer, now, saved=saved)
            if not prepared.ok and (mark is None or mark.version != content_hash(merged)):
                report.errors.append(ConfigError(str(path), [str(problem) for problem in prepared.errors]))
                continue  # the version stored before stays
            items = list(prepared.items)
            report.tell(prepared)
        result = store.sync_event(event, str(path), items, notify_changes=config.campaign.notify_changes, now=now,
                                  skip_past=delivery.skip_past, planned_with=made_with)
        report.results.append(result)
        if source is not None:
            source.synced(result, event, path, config, mark.mark if mark else None)
    defined_by = {str(file): event_id for event_id, file in files.sources.items()}
    for event_id, mark in stored.items():
        stored_path = mark.source
        if mark.origin is not EventOrigin.FILE or mark.withdrawn or event_id in files.events:
            continue
        if event_id in files.conflicts or Path(stored_path) in files.broken:
            continue  # its file is there but unusable for now: keep the stored version
        if stored_path in defined_by:
            reason = f"its file {stored_path} now defines the event {defined_by[stored_path]!r}"
        else:
            reason = f"its file {stored_path} was removed"
        cancelled = store.withdraw(event_id, reason, now)
        if cancelled is not None:
            report.withdrawn.append(Withdrawal(event_id=event_id, reason=reason, cancelled=cancelled))
    replan_dashboard_events(config, store, now, renderer, report, stored)
    return report


def replan_dashboard_events(config: AppConfig, store: Store, now: datetime, renderer: Renderer,
                            report: ImportReport, stored: dict[str, EventMark]) -> None:
    """Plan again the events made in the dashboard whose plan was made with another configuration: a campaign,
    template or target change reaches them as it reaches the events from files (a step that now asks for
    approval, say, would otherwise have sent theirs unapproved)."""
    made_with = fingerprint(config)
    for event_id, mark in stored.items():
        if mark.origin is not EventOrigin.DASHBOARD or mark.withdrawn or mark.planned_with == made_with:
            continue
        record = store.record(event_id)
        if record is None:
            continue
        prepared = prepare(record.event, config, renderer, now, saved=Saved(start=mark.start, status=mark.status))
        report.tell(prepared)
        report.results.append(store.sync_event(
            record.event, record.source, list(prepared.items), origin=EventOrigin.DASHBOARD,
            notify_changes=config.campaign.notify_changes, now=now, skip_past=config.settings.delivery.skip_past,
            planned_with=made_with))

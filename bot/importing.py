"""Event files as a source of events: each file all or nothing, a removed file withdraws its event, two files
with one id replace nothing, and an event taken over in the dashboard is no longer read from its file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.config import AppConfig, EventFileCache, load_events
from bot.domain import Event, EventOrigin
from bot.errors import ConfigError
from bot.planning import TargetInfo, plan
from bot.storage import Store, SyncResult


def targets(config: AppConfig) -> list[TargetInfo]:
    return [
        TargetInfo(name=name, platform=target.platform, lang=target.lang)
        for name, target in config.settings.targets.items()
        if target.enabled
    ]


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


def import_events(config: AppConfig, store: Store, now: datetime, source: FileSource | None = None
                  ) -> ImportReport:
    """Read every event file and sync it; each file is all or nothing, and one bad file stops no other.

    A stored event whose file is gone, or whose file now defines another id, is withdrawn (its unsent posts
    cancelled with the reason); restoring the file restores it. An event whose file cannot be read, or whose
    id two files claim, stays as stored. If the events folder itself is missing, nothing is withdrawn.
    With `source` (kept by the caller between imports), only what changed is parsed and synced again.
    """
    if not config.events_dir.is_dir():
        problem = ConfigError(str(config.events_dir), ["no such folder: no event file was read, none withdrawn"])
        return ImportReport(errors=[problem])
    files = load_events(config.events_dir, source.files if source else None)
    report = ImportReport(errors=list(files.errors))
    wanted = targets(config)
    stored = store.marks()
    delivery = config.settings.delivery
    for event_id, event in files.events.items():
        path = files.sources[event_id]
        origin = stored.get(event_id)
        if origin is not None and origin[0] is EventOrigin.DASHBOARD:
            report.ignored.append((event_id, path))
            continue
        mark = origin[3] if origin is not None else None
        if source is not None and source.unchanged(event, path, config, mark):
            report.results.append(SyncResult(event_id=event_id, outcome="unchanged"))
            continue
        items = plan(event, config.campaign, wanted)
        result = store.sync_event(event, str(path), items, notify_changes=config.campaign.notify_changes, now=now,
                                  skip_past=delivery.skip_past)
        report.results.append(result)
        if source is not None:
            source.synced(result, event, path, config, mark)
    defined_by = {str(file): event_id for event_id, file in files.sources.items()}
    for event_id, (origin_kind, stored_path, withdrawn, _) in stored.items():
        if origin_kind is not EventOrigin.FILE or withdrawn or event_id in files.events:
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
    return report

"""Event files as a source of events: each file all or nothing, a removed file withdraws its event, two files
with one id replace nothing, and an event taken over in the dashboard is no longer read from its file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.config import AppConfig, load_events
from bot.domain import EventOrigin
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


def import_events(config: AppConfig, store: Store, now: datetime) -> ImportReport:
    """Read every event file and sync it; each file is all or nothing, and one bad file stops no other.

    A stored event whose file is gone, or whose file now defines another id, is withdrawn (its unsent posts
    cancelled with the reason); restoring the file restores it. An event whose file cannot be read, or whose
    id two files claim, stays as stored. If the events folder itself is missing, nothing is withdrawn.
    """
    if not config.events_dir.is_dir():
        problem = ConfigError(str(config.events_dir), ["no such folder: no event file was read, none withdrawn"])
        return ImportReport(errors=[problem])
    files = load_events(config.events_dir)
    report = ImportReport(errors=list(files.errors))
    wanted = targets(config)
    stored = store.sources()
    delivery = config.settings.delivery
    for event_id, event in files.events.items():
        source = files.sources[event_id]
        origin = stored.get(event_id)
        if origin is not None and origin[0] is EventOrigin.DASHBOARD:
            report.ignored.append((event_id, source))
            continue
        items = plan(event, config.campaign, wanted)
        report.results.append(store.sync_event(
            event, str(source), items, notify_changes=config.campaign.notify_changes, now=now,
            skip_past=delivery.skip_past,
        ))
    defined_by = {str(path): event_id for event_id, path in files.sources.items()}
    for event_id, (origin_kind, path, withdrawn) in stored.items():
        if origin_kind is not EventOrigin.FILE or withdrawn or event_id in files.events:
            continue
        if event_id in files.conflicts or Path(path) in files.broken:
            continue  # its file is there but unusable for now: keep the stored version
        if path in defined_by:
            reason = f"its file {path} now defines the event {defined_by[path]!r}"
        else:
            reason = f"its file {path} was removed"
        cancelled = store.withdraw(event_id, reason, now)
        if cancelled is not None:
            report.withdrawn.append(Withdrawal(event_id=event_id, reason=reason, cancelled=cancelled))
    return report

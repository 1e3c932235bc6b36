"""Imports the event files into the database and plans their campaigns; bad files are reported, not applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.config import AppConfig, load_events
from bot.errors import ConfigError
from bot.planning import TargetInfo, plan
from bot.storage import Store, SyncResult


def targets(config: AppConfig) -> list[TargetInfo]:
    return [
        TargetInfo(name=name, platform=target.platform, lang=target.lang)
        for name, target in config.settings.targets.items()
        if target.enabled
    ]


@dataclass(kw_only=True)
class ImportReport:
    results: list[SyncResult] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)


def import_events(config: AppConfig, store: Store, now: datetime | None = None) -> ImportReport:
    """Read every event file and sync it; each file is all or nothing, and one bad file stops no other."""
    files = load_events(config.events_dir)
    report = ImportReport(errors=list(files.errors))
    wanted = targets(config)
    for event_id, event in files.events.items():
        items = plan(event, config.campaign, wanted)
        report.results.append(store.sync_event(
            event, str(files.sources[event_id]), items, notify_changes=config.campaign.notify_changes, now=now
        ))
    return report

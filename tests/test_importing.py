"""Event files as a source, remembered between imports: what did not change is neither parsed nor synced
again, and whatever changed (the file, the stored row, the configuration) is."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.config import AppConfig, load_config
from bot.domain import EventStatus
from bot.importing import FileSource, import_events
from bot.storage import Store

NOW = datetime(2024, 11, 1, tzinfo=UTC)


def outcomes(config_dir: Path, store: Store, source: FileSource, config: AppConfig | None = None) -> list[str]:
    report = import_events(config or load_config(config_dir), store, NOW, source)
    assert report.errors == []
    return [r.outcome for r in report.results]


def test_a_remembered_event_is_synced_again_when_its_row_changes(workdir: Path, store: Store) -> None:
    config = load_config(workdir / "config")
    source = FileSource()
    assert outcomes(workdir, store, source, config) == ["created"]
    assert outcomes(workdir, store, source, config) == ["unchanged"]  # synced: nothing to do, remembered
    assert outcomes(workdir, store, source, config) == ["unchanged"]  # not synced at all
    # Something else wrote the row (here: a withdrawal); the file still says the event is on.
    assert store.withdraw("russia-dprk-treaty", "a test", NOW) is not None
    assert outcomes(workdir, store, source, config) == ["restored"]
    record = store.record("russia-dprk-treaty")
    assert record is not None and record.withdrawn is None


def test_an_edited_file_and_a_new_configuration_are_synced_again(workdir: Path, store: Store) -> None:
    config = load_config(workdir / "config")
    source = FileSource()
    outcomes(workdir, store, source, config)
    outcomes(workdir, store, source, config)
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("status: scheduled", "status: postponed"),
                    encoding="utf-8")
    assert outcomes(workdir, store, source, config) == ["updated"]
    record = store.record("russia-dprk-treaty")
    assert record is not None and record.event.status is EventStatus.POSTPONED
    outcomes(workdir, store, source, config)
    # A reloaded configuration (a new object: the campaign may have changed) syncs every event once more.
    campaign = workdir / "config" / "campaign.yaml"
    steps_before = len(store.posts("russia-dprk-treaty"))
    campaign.write_text(campaign.read_text(encoding="utf-8").replace("    at: start - 7d\n", "    at: start - 6d\n"),
                        encoding="utf-8")
    assert outcomes(workdir, store, source, load_config(workdir / "config")) == ["updated"]
    assert len(store.posts("russia-dprk-treaty")) == steps_before

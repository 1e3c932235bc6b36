"""Reading event files, the campaign and settings: precise errors, nothing half-read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import load_config, load_event, load_events
from bot.errors import ConfigError
from tests.conftest import REFERENCE_EVENT_FILE, SEEDS


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def reference_text() -> str:
    return REFERENCE_EVENT_FILE.read_text(encoding="utf-8")


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_event(path)
    return str(info.value)


def test_reference_event_is_transcribed_completely() -> None:
    event = load_event(REFERENCE_EVENT_FILE)
    assert event.id == "russia-dprk-treaty"
    assert event.start.isoformat() == "2024-11-27T11:00:00+03:00"
    assert event.timezone == "Europe/Moscow"
    assert [p.name["en"] for p in event.speakers if isinstance(p.name, dict)] == [
        "Dmitry Kiku", "Georgy Toloraya", "Ilya Dyachkov", "Anton Khlopkov", "Xu Bo", "Konstantin Asmolov",
    ]
    assert event.moderator is not None and event.moderator.name == {"en": "Ivan Timofeev", "ru": "Иван Тимофеев"}
    assert event.languages == ("ru", "en")
    assert event.accreditation is not None and event.accreditation.phone == "+79269307763"
    assert set(event.live) == {"website", "x", "vk", "telegram", "dzen"}
    assert isinstance(event.report, dict) and "Article 20" in event.report["en"]


def test_reference_event_text_is_the_seeds_word_for_word() -> None:
    event = load_event(REFERENCE_EVENT_FILE)
    announcement, report = SEEDS / "event-announcement.txt", SEEDS / "event-report.txt"
    if not announcement.exists():
        pytest.skip(f"the seeds are not beside the repo ({SEEDS})")
    assert isinstance(event.description, dict) and isinstance(event.report, dict)
    text = announcement.read_text(encoding="utf-8")
    for paragraph in event.description["en"].split("\n\n"):
        assert paragraph in text
    text = report.read_text(encoding="utf-8")
    for paragraph in event.report["en"].split("\n\n"):
        assert paragraph in text
    assert len(event.description["ru"].split("\n\n")) == len(event.description["en"].split("\n\n"))


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "id: x\ntitle: [unclosed\nstart: 2024-01-01\n")
    message = error_of(path)
    assert str(path) in message
    assert "not valid YAML" in message and "line 3" in message


def test_unknown_field_is_named_with_its_line(tmp_path: Path) -> None:
    text = reference_text().replace("\nvenue:", "\nvenu_typo: 1\nvenue:")
    path = write(tmp_path / "e.yaml", text)
    message = error_of(path)
    line = text.splitlines().index("venu_typo: 1") + 1
    assert f"line {line}, venu_typo: Extra inputs are not permitted" in message


def test_missing_field(tmp_path: Path) -> None:
    text = "\n".join(line for line in reference_text().splitlines() if not line.startswith("timezone:"))
    message = error_of(write(tmp_path / "e.yaml", text))
    assert "timezone: Field required" in message


def test_unknown_time_zone(tmp_path: Path) -> None:
    text = reference_text().replace("timezone: Europe/Moscow", "timezone: Europe/Atlantis")
    message = error_of(write(tmp_path / "e.yaml", text))
    assert "timezone: unknown time zone 'Europe/Atlantis'" in message


def test_end_before_start(tmp_path: Path) -> None:
    text = reference_text().replace("end: 2024-11-27 13:00", "end: 2024-11-27 10:00")
    message = error_of(write(tmp_path / "e.yaml", text))
    assert "end (2024-11-27T10:00:00+03:00) must be after start" in message


def test_nested_field_error_points_into_the_list(tmp_path: Path) -> None:
    text = reference_text().replace("form_url: https://valdaiclub.com/about/accreditation/", "form_url: not-a-url")
    message = error_of(write(tmp_path / "e.yaml", text))
    assert "accreditation.form_url: not an http(s) URL" in message


def test_bad_file_is_left_out_and_good_ones_are_read(tmp_path: Path) -> None:
    write(tmp_path / "good.yaml", reference_text().replace("id: russia-dprk-treaty", "id: good"))
    write(tmp_path / "bad.yaml", reference_text().replace("id: russia-dprk-treaty", "id: bad").replace(
        "timezone: Europe/Moscow", "timezone: Nowhere"))
    files = load_events(tmp_path)
    assert list(files.events) == ["good"]
    assert len(files.errors) == 1 and "bad.yaml" in str(files.errors[0])


def test_two_files_with_one_id_are_both_left_out_and_named(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", reference_text())
    write(tmp_path / "b.yaml", reference_text())
    files = load_events(tmp_path)
    assert list(files.events) == []  # neither replaces the other (or the event already stored)
    (error,) = files.errors
    assert str(tmp_path / "a.yaml") in str(error) and str(tmp_path / "b.yaml") in str(error)
    assert "'russia-dprk-treaty' is defined by 2 files" in str(error)
    assert files.conflicts == {"russia-dprk-treaty": [tmp_path / "a.yaml", tmp_path / "b.yaml"]}


def test_a_file_that_is_not_utf8_is_reported_and_the_others_load(tmp_path: Path) -> None:
    write(tmp_path / "good.yaml", reference_text())
    (tmp_path / "latin1.yaml").write_bytes("id: other\ntitle: Caf\xe9\n".encode("latin-1"))
    files = load_events(tmp_path)
    assert list(files.events) == ["russia-dprk-treaty"]
    (error,) = files.errors
    assert str(error).startswith(f"{tmp_path / 'latin1.yaml'}: line 2: not UTF-8 text (byte 0xe9")
    assert files.broken == {tmp_path / "latin1.yaml"}


def test_id_defaults_to_file_name(tmp_path: Path) -> None:
    text = "\n".join(line for line in reference_text().splitlines() if not line.startswith("id:"))
    assert load_event(write(tmp_path / "from-file-name.yaml", text)).id == "from-file-name"


def test_campaign_platform_without_target(workdir: Path) -> None:
    settings = (workdir / "config" / "settings.toml").read_text()
    cut = settings.index("[targets.x]")
    end = settings.index("[targets.dzen]")
    (workdir / "config" / "settings.toml").write_text(settings[:cut] + settings[end:])
    with pytest.raises(ConfigError) as info:
        load_config(workdir / "config")
    assert "campaign.yaml" in str(info.value)
    assert "platform 'x' has no enabled target" in str(info.value)


def test_bad_campaign_offset(workdir: Path) -> None:
    path = workdir / "config" / "campaign.yaml"
    path.write_text(path.read_text().replace("at: start - 7d", "at: a week before"))
    with pytest.raises(ConfigError) as info:
        load_config(workdir / "config")
    assert "steps[0].at: cannot read 'a week before'" in str(info.value)
    assert "line " in str(info.value)


def test_the_file_cache_parses_a_file_again_only_when_its_bytes_change(tmp_path: Path) -> None:
    from bot.config import EventFileCache

    cache = EventFileCache()
    path = write(tmp_path / "events" / "forum.yaml", reference_text())
    first = cache.load(path)
    assert cache.load(path) is first  # the same bytes: the event read last time, not parsed again
    stat = path.stat()
    # An edit of the same length within the same timestamp is still seen: the bytes are compared, not the time.
    edited = reference_text().replace("Valdai Club to Discuss", "Valdai Club to Debate ")
    assert len(edited.encode()) == len(reference_text().encode())
    path.write_text(edited, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = cache.load(path)
    assert second is not first and second.title["en"].startswith("Valdai Club to Debate ")  # type: ignore[index]


def test_the_file_cache_reports_a_broken_file_every_time_and_forgets_removed_ones(tmp_path: Path) -> None:
    from bot.config import EventFileCache

    cache = EventFileCache()
    folder = tmp_path / "events"
    bad = write(folder / "bad.yaml", "id: bad\ntitle: [unclosed\n")
    good = write(folder / "good.yaml", reference_text())
    for _ in range(2):  # a problem is not forgotten because the file did not change
        files = load_events(folder, cache)
        assert list(files.events) == ["russia-dprk-treaty"] and files.broken == {bad}
        assert "bad.yaml" in str(files.errors[0]) and "not valid YAML" in str(files.errors[0])
    good.unlink()
    files = load_events(folder, cache)
    assert files.events == {} and files.broken == {bad}
    with pytest.raises(ConfigError, match="cannot read the file"):
        cache.load(good)


def test_each_text_field_has_a_bound_named_with_the_file_and_the_field(tmp_path: Path) -> None:
    # A 100 kB title was accepted, and opening its event page stalled the whole process for 14 minutes.
    text = reference_text().replace("title:\n  en: Valdai Club to Discuss", "title:\n  en: " + "Very " * 4_000 +
                                    "Valdai Club to Discuss", 1)
    assert text != reference_text()
    message = error_of(write(tmp_path / "events" / "long.yaml", text))
    assert "long.yaml: line 14, title: at most 300 characters; this one has 20,048: shorten it" in message


def test_a_description_within_its_bound_is_read() -> None:
    from bot.domain import TEXT_LIMITS

    assert TEXT_LIMITS["description"] == 20_000
    event = load_event(REFERENCE_EVENT_FILE)
    assert isinstance(event.description, dict) and len(event.description["en"]) < TEXT_LIMITS["description"]

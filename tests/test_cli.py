"""The command line on the embedded defaults: validate, events, plan, preview, post, run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.storage import Store, open_database
from tests.conftest import Platforms

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--config", "config", *args])


def test_validate_passes_on_the_sample(workdir: Path) -> None:
    result = invoke("validate")
    assert result.exit_code == 0, result.output
    assert "5 targets, 5 campaign steps, 1 events, 22 posts fit their limits" in result.output


def test_validate_reports_template_syntax_error(workdir: Path) -> None:
    path = workdir / "templates" / "live.en.j2"
    path.write_text(path.read_text() + "\n{% if %}\n")
    result = invoke("validate")
    assert result.exit_code == 1
    assert "live.en.j2" in result.output and "line" in result.output


def test_validate_reports_undefined_variable(workdir: Path) -> None:
    path = workdir / "templates" / "reminder.ru.j2"
    path.write_text(path.read_text().replace("{{ event.venue }}", "{{ event.venu }}"))
    result = invoke("validate")
    assert result.exit_code == 1
    assert "reminder.ru.j2" in result.output and "venu" in result.output


def test_validate_reports_bad_event_file(workdir: Path) -> None:
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    path.write_text(path.read_text().replace("timezone: Europe/Moscow", "timezone: Mars/Olympus"))
    result = invoke("validate")
    assert result.exit_code == 1
    assert "russia-dprk-treaty.yaml" in result.output
    assert "timezone: unknown time zone 'Mars/Olympus'" in result.output


def test_validate_reports_a_post_that_cannot_fit(workdir: Path) -> None:
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    text = path.read_text()
    anchor = "    The Valdai Discussion Club was established in 2004."
    path.write_text(text.replace(anchor, "    " + "Very long report sentence. " * 2000 + "\n\n" + anchor))
    result = invoke("validate")
    assert result.exit_code == 1
    assert "summary for telegram" in result.output and "parts" in result.output


def test_broken_settings_exit_nonzero_with_file_name(workdir: Path) -> None:
    (workdir / "config" / "settings.toml").write_text("[database\nurl = 1")
    result = invoke("events")
    assert result.exit_code == 2
    assert "settings.toml: not valid TOML" in result.output


def test_plan_prints_the_timeline(workdir: Path) -> None:
    result = invoke("plan", "russia-dprk-treaty")
    assert result.exit_code == 0, result.output
    assert "2024-11-20 11:00 MSK" in result.output and "2024-11-20 08:00 UTC" in result.output
    assert "reminder-1h" in result.output and "telegram_ru" in result.output
    assert (workdir / "var" / "announce-bot.db").exists()


def test_unknown_event(workdir: Path) -> None:
    result = invoke("plan", "nope")
    assert result.exit_code == 2
    assert "no event 'nope' (known: russia-dprk-treaty)" in result.output


def test_preview_shows_lengths_against_limits(workdir: Path) -> None:
    result = invoke("preview", "russia-dprk-treaty", "--kind", "announcement", "--platform", "x")
    assert result.exit_code == 0, result.output
    assert "/280" in result.output and "part 1/2" in result.output
    assert "Valdai Club to Discuss Russia-North Korea Treaty" in result.output
    ru = invoke("preview", "russia-dprk-treaty", "--kind", "live", "--lang", "ru")
    assert "Прямой эфир" in ru.output and "/4096" in ru.output


def test_bad_event_file_is_not_imported_and_old_version_stays(workdir: Path) -> None:
    assert invoke("events").exit_code == 0
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    good = path.read_text()
    path.write_text(good.replace("start: 2024-11-27 11:00", "start: 2024-11-27 12:00").replace(
        "end: 2024-11-27 13:00", "end: 2024-11-27 09:00"))
    result = invoke("plan", "russia-dprk-treaty")
    assert "not imported" in result.output and "must be after start" in result.output
    assert "2024-11-27 11:00 MSK" in result.output  # the stored version, untouched


def test_post_dry_run_sends_and_records_nothing(workdir: Path) -> None:
    result = invoke("post", "russia-dprk-treaty", "announcement", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: not sent" in result.output
    assert not (workdir / "var" / "outbox").exists()


def test_post_without_credentials_goes_to_outbox(workdir: Path) -> None:
    result = invoke("post", "russia-dprk-treaty", "live", "--platform", "telegram", "--platform", "vk")
    assert result.exit_code == 0, result.output
    files = sorted((workdir / "var" / "outbox").rglob("*.txt"))
    assert [f.parent.name for f in files] == ["telegram", "telegram", "vk"]
    text = (workdir / "var" / "outbox" / "vk").glob("*.txt").__next__().read_text()
    assert "Смотрите трансляцию" in text and "https://vk.com/valdaiclub" in text
    assert result.output.count("✓ sent") == 3


def test_run_once_imports_plans_and_catches_up(workdir: Path) -> None:
    first = invoke("run", "--once")
    assert "event russia-dprk-treaty: created (+22 planned" in first.output
    # The reference event is long over: only its summary is still worth sending, and it goes out.
    assert "✓ summary → telegram:" in first.output
    assert "✓ announcement" not in first.output
    assert "skipped" in first.output and "the event had already ended" in first.output
    second = invoke("run", "--once")
    assert "event russia-dprk-treaty: unchanged (+0 planned, 0 re-planned, 0 cancelled)" in second.output
    assert "✓ summary" not in second.output  # sent once, never twice


def test_python_dash_m_entry_point(workdir: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "validate" in done.stdout


def test_post_publishes_to_every_platform_and_records_it(platforms: Platforms) -> None:
    result = invoke("post", "russia-dprk-treaty", "announcement")
    assert result.exit_code == 0, result.output
    assert result.output.count("✓ sent") == 5
    assert "https://t.me/valdaiclub/" in result.output and "https://vk.com/wall-89190013_" in result.output
    assert "https://x.com/valdaiclub/status/" in result.output
    sent = platforms.sent()
    assert "Dmitry Kiku" in sent["telegram"][0] and "Дмитрий Кику" in sent["telegram_ru"][0]
    assert "Дмитрий Кику" in sent["vk"][0] and "Valdai Club to Discuss" in sent["x"][0]
    assert platforms.vk.posts[0].owner_id == -89190013
    assert platforms.vk.posts[0].attachments == "https://valdaiclub.com/events/announcements/russia-dprk-treaty/"
    assert (Path("var/feeds/dzen.xml")).read_text().count("<item>") == 1
    store = Store(open_database("sqlite:///var/announce-bot.db"))
    assert sorted(d.target for d in store.deliveries() if d.state == "sent") == [
        "dzen", "telegram", "telegram_ru", "vk", "x"]


def test_post_reports_a_failing_platform_in_plain_words_and_the_others_still_go_out(platforms: Platforms) -> None:
    platforms.vk.group_auth()
    result = invoke("post", "russia-dprk-treaty", "live", "--platform", "vk", "--platform", "x")
    assert result.exit_code == 1
    assert "CredentialsError" in result.output and "refused the community token" in " ".join(result.output.split())
    assert result.output.count("✓ sent") == 1 and len(platforms.x.tweets) == 1
    for secret in platforms.secrets:
        assert secret not in result.output
    store = Store(open_database("sqlite:///var/announce-bot.db"))
    failed = [d for d in store.deliveries() if d.state == "failed"]
    assert [d.target for d in failed] == ["vk"] and "27" in (failed[0].error or "")

"""The command line on the embedded defaults: validate, events, plan, preview, post, run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.domain import PostState
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
    # The day-before reminder goes to Telegram (twice), VK and X, not Dzen: its step does not name Dzen.
    assert "5 targets, 5 campaign steps, 1 events, 21 posts fit their limits" in result.output
    assert "targets.dzen: Dzen needs [web] public_url" in result.output
    # What link cards and feeds will say of the event, in each language it is published in.
    assert ("russia-dprk-treaty [en]: The Valdai Club will host an expert discussion dedicated to the Russia-DPRK "
            "Treaty and the security situation in Northeast Asia in Moscow on November 27, 2024, at 11:00 Moscow Time "
            "(GMT+3).") in result.output
    assert "russia-dprk-treaty [ru]: Клуб «Валдай» проведёт экспертную дискуссию" in result.output


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
    # The report's first paragraph leads the summary on X: 4,050 characters need more than X's 12 tweets.
    anchor = "  en: |-\n    On November 27, the Valdai Club hosted"
    assert anchor in text
    path.write_text(text.replace(anchor, "  en: |-\n    " + "Very long report sentence. " * 150 + "On November 27, "
                                 "the Valdai Club hosted"))
    result = invoke("validate")
    assert result.exit_code == 1
    assert "russia-dprk-treaty.yaml: report: summary on x: X: the post needs" in " ".join(result.output.split())


def test_broken_settings_exit_nonzero_with_file_name(workdir: Path) -> None:
    (workdir / "config" / "settings.toml").write_text("[database\nurl = 1")
    result = invoke("events")
    assert result.exit_code == 2
    assert "settings.toml: not valid TOML" in result.output


def test_plan_prints_the_timeline_and_writes_nothing(workdir: Path) -> None:
    result = invoke("plan", "russia-dprk-treaty")
    assert result.exit_code == 0, result.output
    assert "2024-11-20 11:00 MSK" in result.output and "2024-11-20 08:00 UTC" in result.output
    assert "reminder-1h" in result.output and "telegram_ru" in result.output
    assert "not imported yet" in result.output
    assert not (workdir / "var").exists()  # read-only: no database made, nothing imported
    assert invoke("preview", "russia-dprk-treaty", "--kind", "live").exit_code == 0
    assert not (workdir / "var").exists()


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
    assert invoke("run", "--once").exit_code == 0
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    good = path.read_text()
    path.write_text(good.replace("start: 2024-11-27 11:00", "start: 2024-11-27 12:00").replace(
        "end: 2024-11-27 13:00", "end: 2024-11-27 09:00"))
    result = invoke("run", "--once")
    assert "event file not imported" in result.output and "must be after start" in result.output
    result = invoke("events")
    assert "2024-11-27 11:00 MSK" in result.output and "scheduled" in result.output  # the stored version


def test_post_dry_run_sends_and_records_nothing(workdir: Path) -> None:
    result = invoke("post", "russia-dprk-treaty", "announcement", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: not sent, nothing recorded" in result.output
    assert not (workdir / "var").exists()


def test_post_without_credentials_goes_to_outbox(workdir: Path) -> None:
    result = invoke("post", "russia-dprk-treaty", "live", "--platform", "telegram", "--platform", "vk")
    assert result.exit_code == 0, result.output
    files = sorted((workdir / "var" / "outbox").rglob("*.txt"))
    assert [f.parent.name for f in files] == ["telegram", "telegram", "vk"]
    text = (workdir / "var" / "outbox" / "vk").glob("*.txt").__next__().read_text()
    assert "Смотрите трансляцию" in text and "https://vk.com/valdaiclub" in text
    assert _results(result.output) == {"telegram": "sent", "telegram_ru": "sent", "vk": "sent"}


def _results(output: str) -> dict[str, str]:
    """target -> result, from `post`'s table."""
    found = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 3 and cells[1] in ("sent", "refused", "failed", "retrying", "unknown", "not found"):
            found[cells[0]] = cells[1]
    return found


def test_a_fresh_run_of_a_past_event_publishes_nothing_and_prints_a_short_summary(workdir: Path) -> None:
    first = invoke("run", "--once")
    assert first.exit_code == 0, first.output
    # The reference event is long over and the bot first sees it now: nothing is owed, nothing is sent.
    assert "event russia-dprk-treaty: created (0 to send; 21 already past when first seen: skipped, not sent " \
           "late)" in first.output
    assert not (workdir / "var" / "outbox").exists()
    assert "outbox" not in first.output  # no post printed
    second = invoke("run", "--once")
    assert "1 event(s) unchanged" in second.output and not (workdir / "var" / "outbox").exists()


def test_post_then_run_once_sends_nothing_twice_and_post_again_is_refused(workdir: Path) -> None:
    first = invoke("post", "russia-dprk-treaty", "announcement")
    assert first.exit_code == 0, first.output
    assert _results(first.output) == dict.fromkeys(["telegram", "telegram_ru", "vk", "x", "dzen"], "sent")
    files = sorted((workdir / "var" / "outbox").rglob("*.txt"))
    status = invoke("status", "--json")
    announcements = [p for p in json.loads(status.stdout)["posts"] if p["step"] == "announcement"]
    assert {p["state"] for p in announcements} == {"sent"} and {p["actor"] for p in announcements} == {"cli"}
    assert invoke("run", "--once").exit_code == 0
    again = invoke("post", "russia-dprk-treaty", "announcement")
    assert again.exit_code == 1
    assert _results(again.output) == dict.fromkeys(["telegram", "telegram_ru", "vk", "x", "dzen"], "refused")
    assert "was already sent" in again.output and "--again sends another copy" in again.output
    assert sorted((workdir / "var" / "outbox").rglob("*.txt")) == files  # nothing went out a second time
    copy = invoke("post", "russia-dprk-treaty", "announcement", "--again", "--target", "telegram")
    assert _results(copy.output) == {"telegram": "sent"}
    assert len(sorted((workdir / "var" / "outbox").rglob("*.txt"))) == len(files) + 1
    manual = [p for p in json.loads(invoke("status", "--json").stdout)["posts"] if p["manual"]]
    assert [(p["step"], p["target"], p["state"]) for p in manual] == [("manual-announcement-1", "telegram", "sent")]


def test_a_kind_the_campaign_does_not_plan_is_recorded_as_a_manual_post(workdir: Path) -> None:
    first = invoke("post", "russia-dprk-treaty", "changed", "--platform", "telegram")
    assert _results(first.output) == {"telegram": "sent", "telegram_ru": "sent"}
    assert _results(invoke("post", "russia-dprk-treaty", "changed", "--platform", "telegram").output) == {
        "telegram": "refused", "telegram_ru": "refused"}


def test_a_removed_event_file_withdraws_the_event_and_restoring_it_restores_it(workdir: Path) -> None:
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    text = path.read_text()
    future = text.replace("start: 2024-11-27 11:00", "start: 2099-11-27 11:00").replace(
        "end: 2024-11-27 13:00", "end: 2099-11-27 13:00")
    path.write_text(future)
    assert invoke("run", "--once").exit_code == 0
    path.unlink()
    validate = invoke("validate")
    assert "0 events" in validate.output
    gone = invoke("run", "--once")
    assert f"event russia-dprk-treaty withdrawn: its file {path} was removed" in gone.output
    events = json.loads(invoke("events", "--json").stdout)["events"]
    assert [(e["id"], e["state"]) for e in events] == [("russia-dprk-treaty", "withdrawn")]
    posts = json.loads(invoke("status", "--json").stdout)["posts"]
    assert {p["state"] for p in posts} == {"cancelled"}
    assert {p["reason"] for p in posts} == {f"withdrawn: its file {path} was removed"}
    assert invoke("post", "russia-dprk-treaty", "announcement").exit_code == 1  # a withdrawn event sends nothing
    assert not (workdir / "var" / "outbox").exists()
    path.write_text(future)
    back = invoke("run", "--once")
    assert "event russia-dprk-treaty: restored" in back.output
    assert {p["state"] for p in json.loads(invoke("status", "--json").stdout)["posts"]} == {"planned"}


def test_two_files_with_one_id_replace_nothing(workdir: Path) -> None:
    events = workdir / "config" / "events"
    assert invoke("run", "--once").exit_code == 0
    copy = events / "a-copy.yaml"  # sorts first
    copy.write_text((events / "russia-dprk-treaty.yaml").read_text().replace(
        "start: 2024-11-27 11:00", "start: 2024-11-28 11:00").replace("end: 2024-11-27 13:00", "end: 2024-11-28 13:00"))
    result = invoke("run", "--once")
    assert f"{copy}, {events / 'russia-dprk-treaty.yaml'}: id: 'russia-dprk-treaty' is defined by 2 files" \
        in " ".join(result.output.split())
    assert "withdrawn" not in result.output and "New time" not in result.output
    assert not (workdir / "var" / "outbox").exists()  # no false "new time" notice
    events_now = json.loads(invoke("events", "--json").stdout)["events"]
    assert [(e["state"], e["start"]) for e in events_now] == [("scheduled", "2024-11-27T11:00:00+03:00")]


def test_changing_an_events_id_withdraws_the_old_one_and_resends_nothing(workdir: Path) -> None:
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    assert invoke("run", "--once").exit_code == 0
    assert invoke("post", "russia-dprk-treaty", "announcement").exit_code == 0
    sent = sorted((workdir / "var" / "outbox").rglob("*.txt"))
    path.write_text(path.read_text().replace("id: russia-dprk-treaty", "id: russia-dprk-treaty-2024"))
    result = invoke("run", "--once")
    assert f"event russia-dprk-treaty withdrawn: its file {path} now defines the event 'russia-dprk-treaty-2024'" \
        in result.output
    assert sorted((workdir / "var" / "outbox").rglob("*.txt")) == sent  # the announcement is not sent again


def test_python_dash_m_entry_point(workdir: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "validate" in done.stdout


# What the bot's commands load when they run, never before: each costs `--help` from tens of ms to seconds.
HEAVY = ("sqlalchemy", "alembic", "psycopg", "telegram", "tweepy", "vk_api", "httpx", "requests", "jinja2", "babel",
         "inflect", "pymorphy3", "regex", "phonenumbers", "PIL", "fontTools", "apscheduler", "starlette", "uvicorn",
         "yaml", "icalendar", "pydantic_settings")
_LOADED = f"""
import contextlib, io, sys
import bot.cli
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    bot.cli.app(["--help"])
print(sorted({{name.partition(".")[0] for name in sys.modules}} & set({HEAVY!r})))
"""


def test_the_command_line_loads_no_heavy_part_for_help() -> None:
    """What keeps `announce-bot --help` quick (bench/cli_start.py times it): importing the command line and asking
    for help load none of the libraries the commands use."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _LOADED], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"loaded before any command ran: {done.stdout}"


def test_post_publishes_to_every_platform_and_records_it(platforms: Platforms) -> None:
    result = invoke("post", "russia-dprk-treaty", "announcement")
    assert result.exit_code == 0, result.output
    assert _results(result.output) == dict.fromkeys(["telegram", "telegram_ru", "vk", "x", "dzen"], "sent")
    assert "https://t.me/valdaiclub/" in result.output and "https://vk.com/wall-89190013_" in result.output
    assert "https://x.com/valdaiclub/status/" in result.output
    sent = platforms.sent()
    assert "Dmitry Kiku" in sent["telegram"][0] and "Дмитрий Кику" in sent["telegram_ru"][0]
    assert "Дмитрий Кику" in sent["vk"][0] and "Valdai Club to Discuss" in sent["x"][0]
    assert platforms.vk.posts[0].owner_id == -89190013
    assert platforms.vk.posts[0].attachments == "https://valdaiclub.com/events/announcements/russia-dprk-treaty/"
    assert (Path("var/feeds/dzen.xml")).read_text().count("<item>") == 1
    store = Store(open_database("sqlite:///var/announce-bot.db"))
    assert sorted(d.target for d in store.deliveries() if d.state is PostState.SENT) == [
        "dzen", "telegram", "telegram_ru", "vk", "x"]


def test_post_reports_a_failing_platform_in_plain_words_and_the_others_still_go_out(platforms: Platforms) -> None:
    platforms.vk.group_auth()
    result = invoke("post", "russia-dprk-treaty", "live", "--platform", "vk", "--platform", "x")
    assert result.exit_code == 1
    assert "CredentialsError" in result.output and "refused the community token" in " ".join(result.output.split())
    assert _results(result.output) == {"vk": "failed", "x": "sent"} and len(platforms.x.tweets) == 1
    for secret in platforms.secrets:
        assert secret not in result.output
    store = Store(open_database("sqlite:///var/announce-bot.db"))
    failed = [d for d in store.deliveries() if d.state is PostState.FAILED]
    assert [d.target for d in failed] == ["vk"] and "27" in (failed[0].error or "")

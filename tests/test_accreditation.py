"""The accreditation deadline: campaign steps timed from it (not planned for an event without one, and `plan` and
`validate` say so), and the accreditation line gone from posts and the public page once it has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_config, load_event
from bot.domain import Campaign, Event, Platform, PostKind
from bot.importing import import_events
from bot.planning import TargetInfo, plan, unplanned_steps
from bot.rendering.renderer import Destination, Renderer
from bot.runtime import Runtime
from bot.storage import Store, open_database
from tests.conftest import REFERENCE_EVENT_FILE, TEMPLATES_DIR
from tests.web.support import Clock

EVENT = "russia-dprk-treaty"
# 25 November 2024, 18:00 Moscow time: two days before the event.
DEADLINE = datetime(2024, 11, 25, 15, 0, tzinfo=UTC)
IMPORTED = datetime(2024, 11, 1, tzinfo=UTC)
STEP = {"id": "accreditation-closing", "kind": "announcement", "at": "accreditation_deadline - 2d",
        "catch_up": "before_start"}


def with_deadline(event: Event) -> Event:
    data = event.model_dump()
    data["accreditation"]["deadline"] = datetime(2024, 11, 25, 18, 0)  # naive: the event's own wall clock
    return Event.model_validate(data)


def add_deadline(workdir: Path) -> None:
    path = workdir / "config" / "events" / f"{EVENT}.yaml"
    path.write_text(path.read_text().replace('  phone: "+79269307763"\n',
                                             '  phone: "+79269307763"\n  deadline: 2024-11-25 18:00\n'))


def add_step(workdir: Path) -> None:
    path = workdir / "config" / "campaign.yaml"
    path.write_text(path.read_text() + "  - id: accreditation-closing\n    kind: announcement\n"
                    "    at: accreditation_deadline - 2d\n    catch_up: before_start\n")


def test_a_naive_deadline_is_in_the_events_zone_and_steps_are_timed_from_it() -> None:
    event = with_deadline(load_event(REFERENCE_EVENT_FILE))
    assert event.deadline == DEADLINE
    campaign = Campaign.model_validate({"steps": [STEP]})
    assert campaign.steps[0].anchor == "accreditation_deadline"
    assert campaign.steps[0].due(event) == DEADLINE - timedelta(days=2)
    targets = [TargetInfo(name="telegram", platform=Platform.TELEGRAM, lang="en")]
    (item,) = plan(event, campaign, targets)
    assert item.due_at == DEADLINE - timedelta(days=2) and item.step_id == "accreditation-closing"
    assert unplanned_steps(event, campaign) == []
    without = load_event(REFERENCE_EVENT_FILE)
    assert plan(without, campaign, targets) == []  # the event gives no deadline: not planned for it
    (reason,) = unplanned_steps(without, campaign)
    assert "accreditation-closing" in reason and "not planned" in reason
    with pytest.raises(ValueError, match="accreditation_deadline - 2d"):
        Campaign.model_validate({"steps": [{**STEP, "at": "deadline - 2d"}]})


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_accreditation_line_is_left_out_once_the_deadline_has_passed(lang: str) -> None:
    renderer = Renderer(TEMPLATES_DIR)
    event = with_deadline(load_event(REFERENCE_EVENT_FILE))
    media = {"en": "Information for the media", "ru": "Информация для СМИ"}[lang]
    closes = {"en": "Accreditation closes November 25, 18:00", "ru": "Аккредитация открыта до 25 ноября в 18:00"}[lang]
    destination = Destination(target="telegram", platform=Platform.TELEGRAM, lang=lang)
    before = renderer.render(event, PostKind.ANNOUNCEMENT, destination, now=DEADLINE - timedelta(minutes=1)).text
    assert media in before and closes in before and "+7 926 930-77-63" in before
    after = renderer.render(event, PostKind.ANNOUNCEMENT, destination, now=DEADLINE).text
    assert media not in after and "+7 926 930-77-63" not in after
    # Without a clock (a preview of no particular moment), the line is there.
    assert media in renderer.render(event, PostKind.ANNOUNCEMENT, destination).text


async def test_a_post_due_after_the_deadline_goes_out_without_it(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__RATE_LIMIT", "false")
    add_deadline(workdir)
    add_step(workdir)
    clock = Clock(IMPORTED)
    runtime = Runtime.build(load_config(Path("config")), store=Store(open_database(f"sqlite:///{tmp_path}/a.db")),
                            clock=clock, notify=False)
    import_events(runtime.config, runtime.store, IMPORTED)
    steps = {p.step_id: p.due_at for p in runtime.store.posts(EVENT)}
    assert steps["accreditation-closing"] == DEADLINE - timedelta(days=2)
    clock.now = DEADLINE - timedelta(days=2)  # the step's own post, before the deadline: with the line
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()
    clock.now = DEADLINE + timedelta(hours=1)  # the 1-day reminder... and a late announcement of the campaign
    await runtime.operations.publish(EVENT, PostKind.ANNOUNCEMENT, targets=["telegram"], again=True)
    outbox = sorted((workdir / "var" / "outbox" / "telegram").glob("*announcement*"))
    texts = [f.read_text() for f in outbox]
    assert len(texts) >= 2
    assert "Information for the media" in texts[0] and "Accreditation closes" in texts[0]
    assert "Information for the media" not in texts[-1]
    await runtime.aclose()


def test_plan_and_validate_say_when_a_step_is_not_planned(workdir: Path) -> None:
    add_step(workdir)
    runner = CliRunner()
    shown = runner.invoke(app, ["--config", "config", "plan", EVENT], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert "accreditation-closing: timed from the accreditation deadline" in shown.output
    checked = runner.invoke(app, ["--config", "config", "validate"], env={"COLUMNS": "300"})
    assert checked.exit_code == 0, checked.output
    assert "accreditation.deadline: accreditation-closing: timed from the accreditation deadline" in checked.output
    add_deadline(workdir)
    shown = runner.invoke(app, ["--config", "config", "plan", EVENT, "--json"])
    assert shown.exit_code == 0 and '"not_planned": []' in shown.output
    assert '"step": "accreditation-closing"' in shown.output

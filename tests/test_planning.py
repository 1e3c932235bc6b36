"""Planning: the campaign applied to an event, per target, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import load_config
from bot.domain import CatchUp, Event, Platform, PostKind, Step
from bot.planning import before_start, plan, still_useful
from bot.preparation import targets
from tests.conftest import CONFIG_DIR


def test_reference_campaign_plan(reference_event: Event) -> None:
    config = load_config(CONFIG_DIR)
    items = plan(reference_event, config.campaign, targets(config))
    by_step: dict[str, list[str]] = {}
    for item in items:
        by_step.setdefault(item.step_id, []).append(item.target)
    assert sorted(by_step["announcement"]) == ["dzen", "telegram", "telegram_ru", "vk", "x"]
    assert sorted(by_step["reminder-1h"]) == ["telegram", "telegram_ru", "x"]
    assert sorted(by_step["live"]) == ["telegram", "telegram_ru", "vk", "x"]
    announcement = next(i for i in items if i.step_id == "announcement")
    assert announcement.due_at == datetime(2024, 11, 20, 8, 0, tzinfo=UTC)  # 11:00 Moscow, a week before
    summary = next(i for i in items if i.step_id == "summary")
    assert summary.due_at == datetime(2024, 11, 27, 13, 0, tzinfo=UTC)  # end 13:00 MSK + 3 h
    assert summary.waiting is None  # the reference event has its report
    assert [i.due_at for i in items] == sorted(i.due_at for i in items)
    langs = {i.target: i.lang for i in items}
    assert langs["telegram_ru"] == "ru" and langs["x"] == "en"


def test_summary_waits_for_the_report(reference_event: Event) -> None:
    config = load_config(CONFIG_DIR)
    event = reference_event.model_copy(update={"report": None})
    summary = [i for i in plan(event, config.campaign, targets(config)) if i.kind is PostKind.SUMMARY]
    assert summary and all(i.waiting == "no report yet" for i in summary)


def test_step_offsets() -> None:
    step = Step(id="s", kind=PostKind.REMINDER, at="start - 1d 12h")
    assert step.offset == -timedelta(days=1, hours=12)
    assert Step(id="e", kind=PostKind.SUMMARY, at="end + 2h").offset == timedelta(hours=2)
    assert Step(id="z", kind=PostKind.LIVE, at="start").offset == timedelta()


def test_before_start(reference_event: Event) -> None:
    assert before_start(Step(id="r", kind=PostKind.REMINDER, at="start - 1h"), reference_event) == timedelta(hours=1)
    assert before_start(Step(id="l", kind=PostKind.LIVE, at="start"), reference_event) is None


def test_catch_up_policy(reference_event: Event) -> None:
    start, end = reference_event.start, reference_event.end
    assert still_useful(CatchUp.ALWAYS, start, end, end + timedelta(days=3)) is None
    assert still_useful(CatchUp.BEFORE_START, start, end, start - timedelta(minutes=1)) is None
    assert still_useful(CatchUp.BEFORE_START, start, end, start) == "the event had already started"
    assert still_useful(CatchUp.WHILE_RUNNING, start, end, start + timedelta(minutes=30)) is None
    assert still_useful(CatchUp.WHILE_RUNNING, start, end, end) == "the event had already ended"


def test_platform_filter(reference_event: Event) -> None:
    config = load_config(CONFIG_DIR)
    only_x = config.campaign.model_copy(update={"platforms": (Platform.X,)})
    items = plan(reference_event, only_x, targets(config))
    assert {i.platform for i in items if i.step_id == "announcement"} == {Platform.X}

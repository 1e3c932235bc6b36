"""Approval before posting: a step with `approval: required` waits for an approver; approved, skipped, expired and
withdrawn by a change, through the operations layer, the scheduler, the CLI and Telegram's buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.chat import ChatBot, chat_bot
from bot.cli import app
from bot.config import load_config
from bot.config.live import LiveConfig
from bot.domain import Approval, PlannedPost, PostKind, PostState
from bot.importing import import_events
from bot.runtime import Runtime
from bot.storage import Store, open_database
from tests.chat.conftest import buttons
from tests.clock import Clock
from tests.conftest import Platforms
from tests.fakes.telegram import FakeTelegram, User

START = datetime(2024, 11, 27, 8, 0, tzinfo=UTC)
ANNOUNCED = START - timedelta(days=7)
IMPORTED = datetime(2024, 11, 1, tzinfo=UTC)
OLGA = User(id=1001, first_name="Olga", language_code="en")


@pytest.fixture(autouse=True)
def signed_off(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The announcement needs an approver's sign-off; Olga is the approver."""
    path = workdir / "config" / "campaign.yaml"
    path.write_text(path.read_text().replace("    at: start - 7d\n", "    at: start - 7d\n    approval: required\n"))
    monkeypatch.setenv("ANNOUNCE_BOT_ADMIN__APPROVER_IDS", f"[{OLGA.id}]")
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__RATE_LIMIT", "false")


def build(database_url: str, clock: Clock) -> Runtime:
    runtime = Runtime.build(load_config(Path("config")), store=Store(open_database(database_url)), clock=clock,
                            notify=False, schedules=True)
    import_events(runtime.config, runtime.store, IMPORTED)
    return runtime


def announcements(runtime: Runtime) -> dict[str, PlannedPost]:
    return {p.target: p for p in runtime.store.posts() if p.kind is PostKind.ANNOUNCEMENT}


async def tick(runtime: Runtime) -> None:
    await runtime.dispatcher.check_approvals()
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()


async def test_an_unapproved_post_waits_and_goes_out_once_approved(database_url: str, platforms: Platforms) -> None:
    clock = Clock(ANNOUNCED)
    runtime = build(database_url, clock)
    assert {p.approval for p in announcements(runtime).values()} == {Approval.PENDING}
    refused = await runtime.operations.publish_post(announcements(runtime)["vk"].id, actor="ivan")
    # publish now does not bypass it
    assert not refused.ok and "waits for an approver's sign-off: approve it first (`announce-bot approve" in \
        refused.message
    await tick(runtime)
    assert {p.state for p in announcements(runtime).values()} == {PostState.AWAITING_APPROVAL}
    assert platforms.vk.posts == [] and any("is due but not approved" in a for a in runtime.alerts.sent)
    vk = announcements(runtime)["vk"]
    done = await runtime.operations.approve(vk.id, actor="olga")
    assert done.ok and "goes out now" in done.message
    await runtime.dispatcher.drain()
    vk = announcements(runtime)["vk"]
    assert (vk.state, vk.approved_by) == (PostState.SENT, "olga") and len(platforms.vk.posts) == 1
    again = await runtime.operations.approve(vk.id, actor="olga")
    assert not again.ok
    assert announcements(runtime)["x"].state is PostState.AWAITING_APPROVAL  # the others wait for their own
    await runtime.aclose()


async def test_a_reimport_of_the_same_files_leaves_a_post_waiting_for_its_approver(
    database_url: str, platforms: Platforms
) -> None:
    clock = Clock(ANNOUNCED)
    runtime = build(database_url, clock)
    await tick(runtime)
    waiting = {t: (p.state, p.reason) for t, p in announcements(runtime).items()}
    assert {state for state, _ in waiting.values()} == {PostState.AWAITING_APPROVAL}
    # The sources job re-reads the files every few seconds: the same plan must not put the posts back to
    # planned (and the dispatcher then move them again, each time counting the event as changed).
    report = import_events(runtime.config, runtime.store, clock())
    assert [r.outcome for r in report.results] == ["unchanged"] and not report.changed
    assert {t: (p.state, p.reason) for t, p in announcements(runtime).items()} == waiting
    await runtime.aclose()


async def test_skipped_and_expired(database_url: str, platforms: Platforms) -> None:
    clock = Clock(ANNOUNCED)
    runtime = build(database_url, clock)
    await tick(runtime)
    skipped = await runtime.operations.skip(announcements(runtime)["x"].id, actor="olga")
    assert skipped.ok and announcements(runtime)["x"].state is PostState.SKIPPED
    clock.now = START + timedelta(hours=3)  # the announcement's catch-up window (before_end) closed
    await tick(runtime)
    states = {t: p.state for t, p in announcements(runtime).items()}
    assert set(states.values()) == {PostState.SKIPPED}
    assert "not approved in time" in (announcements(runtime)["vk"].reason or "")
    assert platforms.vk.posts == [] and platforms.x.tweets == []
    await runtime.aclose()


async def test_a_change_after_approval_withdraws_it_and_asks_again(database_url: str, platforms: Platforms,
                                                                    workdir: Path) -> None:
    clock = Clock(ANNOUNCED - timedelta(days=2))
    runtime = build(database_url, clock)
    vk = announcements(runtime)["vk"]
    assert (await runtime.operations.approve(vk.id, actor="olga")).ok
    assert announcements(runtime)["vk"].approval is Approval.APPROVED
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    path.write_text(path.read_text().replace("Russia-North Korea Treaty", "Russia-DPRK Treaty"))
    await runtime.operations.sync_files()
    after = announcements(runtime)["vk"]
    assert (after.approval, after.approved_by, after.approval_asked_at) == (Approval.PENDING, None, None)
    clock.now = ANNOUNCED
    await tick(runtime)
    assert platforms.vk.posts == []  # what was approved is not what would go out now
    await runtime.aclose()


def test_the_approve_command(workdir: Path) -> None:
    runner = CliRunner()
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    start = datetime.now(UTC) + timedelta(days=10)
    path.write_text(path.read_text().replace("start: 2024-11-27 11:00", f"start: {start:%Y-%m-%dT%H:%M}+00:00")
                    .replace("end: 2024-11-27 13:00", f"end: {start + timedelta(hours=2):%Y-%m-%dT%H:%M}+00:00"))
    assert runner.invoke(app, ["--config", "config", "run", "--once"]).exit_code == 0
    posts = runner.invoke(app, ["--config", "config", "status", "--json"]).stdout
    import json

    vk = next(p for p in json.loads(posts)["posts"] if p["step"] == "announcement" and p["target"] == "vk")
    assert vk["approval"] == "pending"
    done = runner.invoke(app, ["--config", "config", "approve", str(vk["id"]), "--as", "olga"])
    assert done.exit_code == 0 and "approved by olga" in done.output
    assert runner.invoke(app, ["--config", "config", "approve", str(vk["id"])]).exit_code == 1
    assert runner.invoke(app, ["--config", "config", "approve", "99999"]).exit_code == 2


async def test_approvers_are_asked_in_telegram_and_answer_with_the_buttons(
    database_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "987654:APPROVAL-secret-token"
    fake = FakeTelegram(token, chat_id="@valdaiclub")
    fake.start()
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN", token)
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__API_BASE_URL", fake.base_url)
    clock = Clock(ANNOUNCED - timedelta(hours=2))  # within a day of the announcement
    runtime = build(database_url, clock)
    bot: ChatBot = chat_bot(LiveConfig(runtime.config), runtime.operations, clock=clock,
                            poll_timeout=1)
    await bot.start()
    try:
        await bot.approvals.ask()  # as its own loop does, every half minute
        asked = fake.in_chat(OLGA.id)
        assert len(asked) == 5 and all("Approval needed" in m["text"] for m in asked)  # one message per target
        assert await bot.approvals.ask() == 0  # asked once
        vk_request = next(m for m in asked if "→ vk" in m["text"])
        assert "Клуб «Валдай»" in vk_request["text"]  # the post as it will go out
        stranger = User(id=4242, first_name="Stranger", language_code="en")
        data = buttons(vk_request)["✅ Approve"]
        fake.press(stranger, vk_request["message_id"], data)
        (refusal,) = await fake.wait_callback_answers(1)
        assert "Only the approvers" in str(refusal)
        assert announcements(runtime)["vk"].approval is Approval.PENDING  # only approvers may answer
        fake.press(OLGA, vk_request["message_id"], data)
        await fake.wait_callback_answers(2)
        assert announcements(runtime)["vk"].approval is Approval.APPROVED
        assert announcements(runtime)["vk"].approved_by == f"telegram:{OLGA.id}"
    finally:
        await bot.stop()
        await runtime.aclose()
        fake.stop()


async def test_dashboard_approvers_signed_in_with_telegram_are_asked_and_may_answer(
    database_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.accounts import Role
    from bot.storage.accounts import Accounts

    token = "987654:APPROVAL-secret-token"
    fake = FakeTelegram(token, chat_id="@valdaiclub")
    fake.start()
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN", token)
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__API_BASE_URL", fake.base_url)
    clock = Clock(ANNOUNCED - timedelta(hours=2))
    runtime = build(database_url, clock)
    maria = User(id=2002, first_name="Maria", language_code="ru")
    victor = User(id=3003, first_name="Victor", language_code="en")
    accounts = Accounts(runtime.store.sessions)
    accounts.add("maria", Role.APPROVER, None, telegram_id=maria.id, now=clock())
    accounts.add("victor", Role.EDITOR, None, telegram_id=victor.id, now=clock())  # prepares, does not approve
    bot: ChatBot = chat_bot(LiveConfig(runtime.config), runtime.operations, clock=clock,
                            poll_timeout=1)
    await bot.start()
    try:
        assert await bot.approvals.ask() == 5
        assert len(fake.in_chat(OLGA.id)) == 5 and len(fake.in_chat(maria.id)) == 5  # settings and dashboard
        assert fake.in_chat(victor.id) == []
        x_request = next(m for m in fake.in_chat(maria.id) if "→ x" in m["text"])
        data = buttons(x_request)["✅ Approve"]
        fake.press(victor, x_request["message_id"], data)
        (refusal,) = await fake.wait_callback_answers(1)
        assert "Only the approvers" in str(refusal) and announcements(runtime)["x"].approval is Approval.PENDING
        fake.press(maria, x_request["message_id"], data)
        await fake.wait_callback_answers(2)
        x = announcements(runtime)["x"]
        assert (x.approval, x.approved_by) == (Approval.APPROVED, f"telegram:{maria.id}")
    finally:
        await bot.stop()
        await runtime.aclose()
        fake.stop()


async def test_approvers_on_max_are_asked_in_the_same_round_and_answer_with_the_buttons(
    database_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from bot.chat import Approvals
    from bot.chat.max import max_chat
    from tests.fakes.max import FakeMax

    token, max_token, maria, stranger = "987654:APPROVAL-secret-token", "max-APPROVAL-token-0123456789", 70099, 70001
    fake = FakeTelegram(token, chat_id="@valdaiclub")
    fake.start()
    on_max = FakeMax(max_token)
    on_max.start()
    with (workdir / "config" / "settings.toml").open("a", encoding="utf-8") as settings:
        settings.write(f'\n[targets.max]\nplatform = "max"\nlang = "ru"\nchat_id = "{on_max.channel_id}"\n')
    for name, value in (("TARGETS__TELEGRAM__TOKEN", token), ("TARGETS__TELEGRAM__API_BASE_URL", fake.base_url),
                        ("TARGETS__MAX__TOKEN", max_token), ("TARGETS__MAX__API_BASE_URL", on_max.base_url),
                        ("ADMIN__MAX_APPROVER_IDS", f"[{maria}]")):
        monkeypatch.setenv(f"ANNOUNCE_BOT_{name}", value)
    clock = Clock(ANNOUNCED - timedelta(hours=2))
    runtime = build(database_url, clock)
    approvals = Approvals(runtime.live, runtime.operations)  # one round for both messengers, as `run` makes it
    bots = [chat_bot(LiveConfig(runtime.config), runtime.operations, clock=clock,
                     poll_timeout=1, approvals=approvals),
            max_chat(runtime.live, runtime.operations, clock=clock, poll_timeout=1,
                     approvals=approvals)]
    for bot in bots:
        await bot.start()
    try:
        assert await approvals.ask() == 5  # as the loop does every half minute
        assert await approvals.ask() == 0  # asked once, on both
        assert len(fake.in_chat(OLGA.id)) == 5  # Telegram's approver too
        asked = on_max.sent_to(maria)
        assert all(m.text.startswith("Approval needed") for m in asked)
        vk_request = next(m for m in asked if "→ vk" in m.text)
        assert "Клуб «Валдай»" in vk_request.text and not vk_request.stripped
        data = {b["text"]: b["payload"] for row in vk_request.buttons for b in row}
        assert data["✅ Approve"].startswith("apv:") and data["Skip"].startswith("apx:")
        on_max.user_presses(stranger, vk_request, data["✅ Approve"])
        await asyncio.to_thread(on_max.wait_for, lambda: len(on_max.answers) == 1)
        assert on_max.answers[-1][1] == {"notification": "Only the approvers may answer this."}
        assert announcements(runtime)["vk"].approval is Approval.PENDING
        on_max.user_presses(maria, vk_request, data["✅ Approve"], name="Maria")
        await asyncio.to_thread(on_max.wait_for, lambda: len(on_max.answers) == 2)
        vk = announcements(runtime)["vk"]
        assert (vk.approval, vk.approved_by) == (Approval.APPROVED, f"max:{maria}")
        await asyncio.to_thread(on_max.wait_for, lambda: on_max.sent_to(maria)[-1].link is not None)
        note = on_max.sent_to(maria)[-1]
        assert note.text.startswith(f"✅ approved by {maria}: ") and note.link == {"type": "reply",
                                                                                  "mid": vk_request.mid}
    finally:
        for bot in bots:
            await bot.stop()
        await runtime.aclose()
        fake.stop()
        on_max.stop()

async def test_nobody_is_asked_to_approve_a_step_whose_window_has_closed(database_url: str) -> None:
    # An approval was requested for a step of an event that had already ended, then skipped a sweep later.
    clock = Clock(START - timedelta(days=2))
    runtime = build(database_url, clock)
    asked = {post.target for post, _ in runtime.operations.approval_requests()}
    assert asked == {"telegram", "telegram_ru", "vk", "x", "dzen"}  # due within a day's notice: asked
    clock.now = START + timedelta(days=1)  # the event is over: its announcement's window (before_end) closed
    assert runtime.operations.approval_requests() == []
    await tick(runtime)
    assert {p.state for p in announcements(runtime).values()} == {PostState.SKIPPED}
    await runtime.aclose()

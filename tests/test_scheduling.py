"""The dispatcher against the loopback fake platforms: on time, once, through faults, crashes and changes."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.domain import Command, PlannedPost, Platform, PostKind, PostState, Receipt
from bot.importing import import_events
from bot.platforms import visible_text
from bot.runtime import Runtime
from bot.storage import Store, open_database
from bot.storage.hotpath import Settlement
from tests.conftest import Platforms
from tests.fakes.base import held
from tests.fakes.telegram import FakeTelegram

# The reference event: 27 November 2024, 11:00-13:00 Moscow time (08:00-10:00 UTC).
START = datetime(2024, 11, 27, 8, 0, tzinfo=UTC)
ANNOUNCEMENT = START - timedelta(days=7)


class Harness:
    """A dispatcher on a real database (SQLite or PostgreSQL), real adapters and an injected clock."""

    def __init__(self, url: str, now: datetime, worker: str = "test") -> None:
        self.now = now
        self.config = load_config(Path("config"))
        self.runtime = Runtime.build(self.config, store=Store(open_database(url)), clock=lambda: self.now,
                                     worker=worker, notify=False, schedules=True)
        self.store = self.runtime.store
        self.claims = self.runtime.dispatcher.claims
        self.alerts = self.runtime.alerts
        self.publisher = self.runtime.publisher
        self.dispatcher = self.runtime.dispatcher
        self.operations = self.runtime.operations
        import_events(self.config, self.store, now)

    async def at(self, moment: datetime) -> int:
        self.now = moment
        claimed = await self.dispatcher.dispatch()
        await self.dispatcher.drain()
        return claimed

    def states(self, step: str | None = None) -> dict[str, str]:
        return {p.target: p.state for p in self.store.posts() if step is None or p.step_id == step}

    def post(self, step: str, target: str) -> PlannedPost:
        return next(p for p in self.store.posts() if p.step_id == step and p.target == target)

    async def close(self) -> None:
        await self.publisher.aclose()


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rate limiting has its own test; here it would only slow the X posts down to one a second.
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__RATE_LIMIT", "false")


def duplicates(platforms: Platforms) -> dict[str, list[str]]:
    return {name: [t for t, n in Counter(texts).items() if n > 1] for name, texts in platforms.sent().items()}


async def test_campaign_plays_in_order_once_on_every_platform(database_url: str, platforms: Platforms) -> None:
    h = Harness(database_url, ANNOUNCEMENT - timedelta(minutes=1))
    assert await h.at(ANNOUNCEMENT - timedelta(seconds=1)) == 0  # nothing is early
    due = sorted({p.due_at for p in h.store.posts()})
    for moment in due:
        await h.at(moment)
    assert set(h.states().values()) == {"sent"}
    sent = platforms.sent()
    assert sum(len(texts) for texts in sent.values()) > 0 and duplicates(platforms) == {
        name: [] for name in sent
    }
    # Telegram saw announcement, two reminders, live and the two-message summary, in that order.
    texts = sent["telegram"]
    assert "Valdai Club to Discuss Russia-North Korea Treaty" in texts[0] and "Dmitry Kiku" in texts[0]
    assert "Tomorrow, November 27" in texts[1] and "Starts in an hour" in visible_text(texts[2])
    assert "Live now" in texts[3] and "https://t.me/valdaiclub" in texts[3]
    assert "Article 20" in "".join(texts[4:])
    assert "Прямой эфир" in "".join(platforms.sent()["telegram_ru"])
    assert len(sent["vk"]) == 4 and len(sent["x"]) >= 5
    # Replaying any moment again sends nothing twice.
    for moment in due:
        assert await h.at(moment) == 0
    assert platforms.sent() == sent
    await h.close()


async def test_faults_are_retried_until_each_post_is_sent_exactly_once(database_url: str, platforms: Platforms) -> None:
    h = Harness(database_url, ANNOUNCEMENT)
    platforms.telegram.fail_method("sendMessage", FakeTelegram.rate_limited(5))
    platforms.telegram_ru.fail_method("sendMessage", FakeTelegram.server_error(), times=2)
    platforms.vk.server_error(status=502, times=2)
    platforms.x.server_error(status=503)
    platforms.x.server_error(status=502, at=2)  # a dropped connection is now "unknown", not retried
    await h.at(ANNOUNCEMENT)
    states = h.states("announcement")
    assert states == {"telegram": "retrying", "telegram_ru": "retrying", "vk": "retrying", "x": "retrying",
                      "dzen": "sent"}
    # A rate limit waits exactly as long as Telegram said: not a second less.
    assert h.post("announcement", "telegram").next_attempt_at == ANNOUNCEMENT + timedelta(seconds=5)
    assert await h.at(ANNOUNCEMENT + timedelta(seconds=4)) == 0
    moment = ANNOUNCEMENT + timedelta(seconds=5)
    for _ in range(8):
        await h.at(moment)
        moment += timedelta(minutes=16)  # past the longest back-off
    assert h.states("announcement") == dict.fromkeys(states, "sent")
    sent = platforms.sent()
    assert [t for t in sent["telegram"] if "Dmitry Kiku" in t] == sent["telegram"][:1]
    assert len(sent["vk"]) == 1 and sent["x"].count(sent["x"][0]) == 1
    assert duplicates(platforms) == {name: [] for name in sent}
    await h.close()


async def test_backoff_grows_and_gives_up_after_the_bounded_attempts(database_url: str, platforms: Platforms,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__MAX_ATTEMPTS", "3")
    h = Harness(database_url, ANNOUNCEMENT)
    platforms.vk.server_error(status=500, times=10)
    delays = []
    moment = ANNOUNCEMENT
    for _ in range(3):
        await h.at(moment)
        post = h.post("announcement", "vk")
        if post.next_attempt_at is None:
            break
        delays.append((post.next_attempt_at - moment).total_seconds())
        moment = post.next_attempt_at
    post = h.post("announcement", "vk")
    assert post.state == "failed" and "gave up after 3 attempts" in (post.reason or "")
    assert len(delays) == 2 and 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20  # base 10 s, doubled, jittered
    assert any("announcement on vk (vk) failed: gave up" in alert for alert in h.alerts.sent)
    assert len(platforms.vk.posts) == 0 and len(platforms.telegram.messages) == 1  # others unaffected
    await h.close()


async def test_revoked_token_stops_that_platform_alerts_and_others_go_on(database_url: str, platforms: Platforms,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__CREDENTIALS_PAUSE", str(8 * 24 * 3600))
    h = Harness(database_url, ANNOUNCEMENT)
    platforms.telegram.fail_method("sendMessage", FakeTelegram.kicked(), times=5)
    await h.at(ANNOUNCEMENT)
    post = h.post("announcement", "telegram")
    assert post.state == "failed" and "CredentialsError" in (post.reason or "")
    assert any("Posting to telegram is paused" in alert for alert in h.alerts.sent)
    assert h.states("announcement")["vk"] == "sent" and h.states("announcement")["x"] == "sent"
    # The next post for that target waits instead of hammering a platform that refused the token.
    reminder = START - timedelta(days=1)
    await h.at(reminder)
    post = h.post("reminder-1d", "telegram")
    assert post.state == "retrying" and post.reason == "paused: the target's credentials failed"
    assert h.post("reminder-1d", "vk").state == "sent"
    await h.close()


async def test_a_post_the_platform_refuses_fails_at_once(database_url: str, platforms: Platforms) -> None:
    h = Harness(database_url, ANNOUNCEMENT)
    platforms.x.duplicate()
    await h.at(ANNOUNCEMENT)
    post = h.post("announcement", "x")
    assert post.state == "failed" and "duplicate" in (post.reason or "").lower()
    assert post.attempts == 1
    await h.close()


async def test_late_posts_follow_the_campaigns_catch_up_policy(database_url: str, platforms: Platforms) -> None:
    # The event was imported days ahead; the bot was down from before the announcement until half an hour
    # into the event.
    h = Harness(database_url, ANNOUNCEMENT - timedelta(days=1))
    await h.at(START + timedelta(minutes=30))
    assert h.states("announcement")["telegram"] == "sent"  # late, but the event is not over
    assert set(h.states("reminder-1d").values()) == {"skipped"}  # a reminder after the start is useless
    assert "the event had already started" in (h.post("reminder-1h", "x").reason or "")
    assert set(h.states("live").values()) == {"sent"}  # the event is running
    assert any("reminder-1h on telegram skipped" in alert for alert in h.alerts.sent)
    await h.at(START + timedelta(days=30))
    assert set(h.states("summary").values()) == {"sent"}  # a summary is always worth sending
    await h.close()


async def test_read_timeout_is_reported_not_resent(database_url: str, platforms: Platforms) -> None:
    h = Harness(database_url, ANNOUNCEMENT)
    answer = threading.Event()  # Telegram posts the message but answers only after the client gave up (2 s)
    platforms.telegram.fail_method("sendMessage", held(answer))
    await h.at(ANNOUNCEMENT)
    post = h.post("announcement", "telegram")
    assert post.state == "unknown" and "may or may not have been published" in (post.reason or "")
    assert any("announcement on telegram (telegram) may or may not be published" in a and f"retry {post.id}" in a
               for a in h.alerts.sent)
    await h.at(ANNOUNCEMENT + timedelta(hours=1))
    assert len([t for t in platforms.sent()["telegram"] if "Dmitry Kiku" in t]) == 1  # never sent twice
    answer.set()  # the late answer comes to a client that no longer listens
    h.claims.command(post.id, Command.RETRY, h.now)  # the organiser checked: it did not arrive; send it again
    await h.at(ANNOUNCEMENT + timedelta(hours=1))
    assert h.post("announcement", "telegram").state == "sent"
    await h.close()


async def test_crash_between_claim_and_receipt_is_reported_on_restart(database_url: str, platforms: Platforms) -> None:
    h = Harness(database_url, ANNOUNCEMENT)
    claimed = h.claims.claim_due(ANNOUNCEMENT, "a-process-that-died")
    assert len(claimed) == 5
    in_flight = [p for p in claimed if p.target in ("telegram", "vk")]
    for post in in_flight:  # the dead process had started these two network calls, and no others
        h.claims.start(post, "a-process-that-died", ANNOUNCEMENT)
    restarted = Harness(database_url, ANNOUNCEMENT + timedelta(minutes=1), worker="restarted")
    await restarted.dispatcher.recover()
    states = restarted.states("announcement")
    assert states == {"telegram": "unknown", "vk": "unknown", "telegram_ru": "planned", "x": "planned",
                      "dzen": "planned"}
    assert len(restarted.alerts.sent) == 2
    assert "may or may not be published" in restarted.alerts.sent[0]
    assert {d.state for d in restarted.store.deliveries()} == {"unknown"}
    await restarted.at(ANNOUNCEMENT + timedelta(minutes=2))
    assert platforms.sent()["telegram"] == [] and platforms.sent()["vk"] == []  # not blindly re-sent
    assert len(platforms.sent()["telegram_ru"]) == 1  # never started: simply sent now
    assert restarted.post("announcement", "x").attempts == 1
    await h.close()
    await restarted.close()


async def test_a_step_can_choose_to_resend_after_a_crash(
    database_url: str, platforms: Platforms, workdir: Path
) -> None:
    path = workdir / "config" / "campaign.yaml"
    path.write_text(path.read_text().replace("    catch_up: before_end\n", "    catch_up: before_end\n"
                                             "    on_unknown: resend\n"))
    h = Harness(database_url, ANNOUNCEMENT)
    for post in h.claims.claim_due(ANNOUNCEMENT, "a-process-that-died"):
        h.claims.start(post, "a-process-that-died", ANNOUNCEMENT)
    await h.dispatcher.recover()
    assert set(h.states("announcement").values()) == {"planned"}
    await h.at(ANNOUNCEMENT + timedelta(minutes=1))
    assert set(h.states("announcement").values()) == {"sent"}
    await h.close()


async def test_two_dispatchers_on_one_database_never_send_twice(database_url: str, platforms: Platforms) -> None:
    first, second = Harness(database_url, ANNOUNCEMENT, worker="one"), Harness(database_url, ANNOUNCEMENT, worker="two")
    await asyncio.gather(first.at(ANNOUNCEMENT), second.at(ANNOUNCEMENT))
    await asyncio.gather(first.at(START), second.at(START))
    assert set(first.states("announcement").values()) == {"sent"}
    assert duplicates(platforms) == {name: [] for name in platforms.sent()}
    workers = {p.claimed_by for p in first.store.posts() if p.state == "sent"}
    assert workers <= {"one", "two"}
    await first.close()
    await second.close()


async def test_changed_start_replans_and_notifies_where_announced(
    database_url: str, platforms: Platforms, workdir: Path
) -> None:
    h = Harness(database_url, ANNOUNCEMENT)
    await h.at(ANNOUNCEMENT)
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    path.write_text(path.read_text().replace("start: 2024-11-27 11:00", "start: 2024-11-28 11:00")
                    .replace("end: 2024-11-27 13:00", "end: 2024-11-28 13:00"))
    h.now = ANNOUNCEMENT + timedelta(hours=2)
    await h.operations.sync_files()
    await h.dispatcher.drain()
    notices = [p for p in h.store.posts() if p.kind == "changed"]
    # X cannot edit its announcement: its notice is a reply in the thread, the correction (below), not another post.
    assert {p.target for p in notices} == {"telegram", "telegram_ru", "vk", "dzen"}
    assert {p.target for p in h.store.posts() if p.edits is not None} == {"telegram", "telegram_ru", "vk", "x", "dzen"}
    assert {p.state for p in notices} == {"sent"}
    assert "New time" in platforms.sent()["telegram"][-1] and "November 28" in platforms.sent()["telegram"][-1]
    assert h.post("reminder-1d", "vk").due_at == START  # moved one day with the event
    await h.close()


async def test_cancelled_event_cancels_posts_and_sends_the_notice(
    database_url: str, platforms: Platforms, workdir: Path
) -> None:
    h = Harness(database_url, ANNOUNCEMENT)
    await h.at(ANNOUNCEMENT)
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    path.write_text(path.read_text().replace("status: scheduled", "status: cancelled"))
    h.now = ANNOUNCEMENT + timedelta(days=1)
    await h.operations.sync_files()
    await h.dispatcher.drain()
    assert set(h.states("reminder-1d").values()) == {"cancelled"}
    assert "Cancelled" in platforms.sent()["telegram"][-1]
    assert "Отменено" in platforms.sent()["telegram_ru"][-1]
    for moment in (START - timedelta(days=1), START):
        assert await h.at(moment) == 0
    await h.close()


async def test_the_wake_up_job_fires_at_the_next_due_time(database_url: str, platforms: Platforms, workdir: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    start = now + timedelta(days=7, hours=1)  # the announcement is due in an hour
    path.write_text(path.read_text().replace("start: 2024-11-27 11:00", f"start: {start:%Y-%m-%dT%H:%M:%S}+00:00")
                    .replace("end: 2024-11-27 13:00", f"end: {start + timedelta(hours=2):%Y-%m-%dT%H:%M:%S}+00:00"))
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__SWEEP_INTERVAL", "86400")  # only the wake-up job can fire it
    h = Harness(database_url, now)
    await h.dispatcher.start()
    due = h.post("announcement", "telegram").due_at
    assert h.dispatcher.scheduler is not None
    wake = h.dispatcher.scheduler.get_job("wake")
    assert wake is not None and wake.next_run_time == due  # armed for the due second, not a sweep later
    assert platforms.telegram.messages == []
    # The hour passes: the bot's clock reaches the due time and APScheduler (whose clock is the system's) fires the
    # job as it would then.
    h.now = due
    wake.modify(next_run_time=datetime.now(UTC))
    sent = await platforms.telegram.wait_messages("@valdaiclub", 1, timeout=60)  # on a condition, not a sleep
    await h.dispatcher.stop()
    assert len(sent) == 1 and len(platforms.telegram.messages) == 1


async def test_secrets_never_reach_logs_or_records(
    database_url: str, platforms: Platforms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h = Harness(database_url, ANNOUNCEMENT)
    platforms.telegram.fail_method("sendMessage", FakeTelegram.unauthorized())
    platforms.vk.auth_failed()
    platforms.x.unauthorized()
    platforms.telegram_ru.fail_method("sendMessage", FakeTelegram.dropped())
    await h.at(ANNOUNCEMENT)
    await h.at(START)
    texts = [record.getMessage() for record in caplog.records]
    texts += [str(record.exc_info) for record in caplog.records if record.exc_info]
    texts += [f"{p.reason} {p.link}" for p in h.store.posts()]
    texts += [f"{d.error}" for d in h.store.deliveries(limit=1000)]
    texts += h.alerts.sent
    assert any("Unauthorized" in t or "token" in t.lower() for t in texts)  # the failures were logged
    for secret in platforms.secrets:
        assert not [t for t in texts if secret in t], secret
    await h.close()


async def test_a_replica_takes_over_stale_claims_and_the_old_owner_cannot_send(
    database_url: str, platforms: Platforms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__SHARED_DATABASE", "true")
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__CLAIM_LEASE", "60")
    slow = Harness(database_url, ANNOUNCEMENT, worker="slow")
    claimed = slow.claims.claim_due(ANNOUNCEMENT, "slow")  # claimed, then it stalled for minutes
    survivor = Harness(database_url, ANNOUNCEMENT + timedelta(seconds=30), worker="survivor")
    await survivor.dispatcher.sweep()
    assert set(survivor.states("announcement").values()) == {"claimed"}  # within the lease: left alone
    survivor.now = ANNOUNCEMENT + timedelta(minutes=5)
    await survivor.dispatcher.sweep()
    await survivor.dispatcher.drain()
    assert set(survivor.states("announcement").values()) == {"sent"}
    # The stalled replica wakes up: its claim is gone, so it may not start sending.
    assert slow.claims.start(claimed[0], "slow", survivor.now) is None
    assert duplicates(platforms) == {name: [] for name in platforms.sent()}
    assert {name: len(texts) for name, texts in platforms.sent().items()} == {
        "telegram": 1, "telegram_ru": 1, "vk": 1, "x": 2}  # the X announcement is a two-tweet thread
    await slow.close()
    await survivor.close()


async def test_live_post_links_and_pins_the_announcement_then_unpins_after_the_event(
    database_url: str, platforms: Platforms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__PIN_LIVE", "true")
    h = Harness(database_url, ANNOUNCEMENT)
    await h.at(ANNOUNCEMENT)
    announcement_id = int(h.post("announcement", "telegram").post_id or 0)
    await h.at(START)
    edited = next(m for m in platforms.telegram.messages if m["message_id"] == announcement_id)
    assert edited.get("edits") == 1
    assert platforms.telegram.pinned == [announcement_id]
    assert platforms.telegram_ru.pinned == []  # the setting is per target
    edit = platforms.telegram.calls("editMessageText")[0].params
    assert edit["text"].endswith('🔴 <b>Live now</b>: <a href="https://t.me/valdaiclub">watch the broadcast</a>')
    assert "Dmitry Kiku" in edit["text"]
    await h.dispatcher.unpin_finished()  # still running: stays pinned
    assert platforms.telegram.pinned == [announcement_id]
    h.now = START + timedelta(hours=2)
    await h.dispatcher.unpin_finished()
    assert platforms.telegram.pinned == []
    assert h.post("live", "telegram").pinned_message_id is None
    await h.close()


async def test_a_crash_after_the_receipt_but_before_the_post_row_does_not_resend(
    database_url: str, platforms: Platforms
) -> None:
    h = Harness(database_url, ANNOUNCEMENT)
    post = next(p for p in h.claims.claim_due(ANNOUNCEMENT, "died") if p.target == "vk")
    delivery = h.claims.start(post, "died", ANNOUNCEMENT)
    assert delivery is not None
    receipt = Receipt(platform=Platform.VK, target="vk", post_id="-1_7", link="https://vk.com/wall-1_7")
    # The receipt reached the delivery log, but not the post's row (as if written by a claim that moved on).
    assert not h.claims.settle(post, "someone-else", delivery, Settlement(state=PostState.SENT, receipt=receipt),
                               ANNOUNCEMENT)
    restarted = Harness(database_url, ANNOUNCEMENT + timedelta(minutes=1), worker="restarted")
    await restarted.dispatcher.recover()
    await restarted.at(ANNOUNCEMENT + timedelta(minutes=1))
    vk = restarted.post("announcement", "vk")
    assert (vk.state, vk.post_id, vk.link) == ("sent", "-1_7", "https://vk.com/wall-1_7")
    assert platforms.vk.posts == []  # not published a second time
    assert restarted.alerts.sent == []
    await h.close()
    await restarted.close()


async def test_a_thread_that_failed_halfway_is_completed_not_repeated(database_url: str, platforms: Platforms) -> None:
    h = Harness(database_url, ANNOUNCEMENT)
    platforms.x.server_error(status=503, at=2)  # the thread's second tweet meets a 503
    await h.at(ANNOUNCEMENT)
    post = h.post("announcement", "x")
    assert post.state == "retrying" and len(post.parts) == 1  # the first tweet is out, and recorded
    assert post.next_attempt_at is not None
    await h.at(post.next_attempt_at)
    post = h.post("announcement", "x")
    assert post.state == "sent" and len(post.parts) == 2
    heads = [t for t in platforms.x.tweets if t.in_reply_to is None]
    assert len(heads) == 1 and len(platforms.x.tweets) == 2  # one thread, each tweet once
    assert platforms.x.tweets[1].in_reply_to == heads[0].id == post.parts[0]
    await h.close()


async def test_a_late_start_sends_one_reminder_saying_how_long_is_really_left(database_url: str,
                                                                               platforms: Platforms) -> None:
    h = Harness(database_url, ANNOUNCEMENT - timedelta(days=1))
    await h.at(START - timedelta(minutes=15))  # down since before the announcement: up 15 minutes before the start
    assert h.post("reminder-1d", "telegram").state == "skipped"
    assert "superseded by reminder-1h" in (h.post("reminder-1d", "telegram").reason or "")
    reminders = [m["text"] for m in platforms.telegram.messages if "⏰" in m["text"]]
    assert len(reminders) == 1
    assert "15 minutes" in reminders[0] and "1 day" not in reminders[0] and "Tomorrow" not in reminders[0]
    await h.close()


def telegram_reminders(platforms: Platforms) -> list[str]:
    return [m["text"] for m in platforms.telegram.messages if "⏰" in m["text"] or "▶️" in m["text"]]


@pytest.mark.parametrize(("before", "said"), [
    (timedelta(hours=50), "⏰ The day after tomorrow, on Wednesday, November 27, at 11:00 Moscow Time (GMT+3)"),
    (timedelta(hours=3), '⏰ Starts <tg-time unix="1732694400" format="r">in 3 hours</tg-time>, at 11:00'),
    (timedelta(minutes=88), '⏰ Starts <tg-time unix="1732694400" format="r">in an hour and a half</tg-time>'),
])
async def test_a_reminder_sent_by_hand_says_the_time_really_left(
    database_url: str, platforms: Platforms, before: timedelta, said: str
) -> None:
    # `post EVENT reminder` 50 hours before the start published "⏰ Tomorrow, …" (its step's offset), 3 hours
    # before "Starts in an hour".
    h = Harness(database_url, ANNOUNCEMENT - timedelta(days=1))
    h.now = START - before
    results = await h.operations.publish("russia-dprk-treaty", PostKind.REMINDER, targets=["telegram"], actor="t")
    assert [r.result.value for r in results] == ["sent"]
    (text,) = telegram_reminders(platforms)
    assert said in (text if "<tg-time" in said else visible_text(text))
    assert '<tg-time unix="1732694400" format="r">' in text  # each reader's app counts the time left itself
    await h.close()


async def test_a_reminder_retried_late_says_the_time_left_then(database_url: str, platforms: Platforms) -> None:
    h = Harness(database_url, ANNOUNCEMENT - timedelta(days=1))
    await h.at(ANNOUNCEMENT)
    platforms.telegram.fail_method("sendMessage", FakeTelegram.server_error(), times=1)
    await h.at(START - timedelta(days=1))  # the 1-day reminder fails at its time...
    post = h.post("reminder-1d", "telegram")
    assert post.state == "retrying"
    await h.at(START - timedelta(hours=2, minutes=30))  # ...and the bot is back only 2.5 hours before the start
    assert h.post("reminder-1d", "telegram").state == "sent"
    (text,) = telegram_reminders(platforms)
    assert "in two and a half hours" in text and "Tomorrow" not in text
    await h.close()


async def test_a_reminder_is_not_sent_after_the_start_unless_its_step_says_so(
    database_url: str, platforms: Platforms
) -> None:
    h = Harness(database_url, ANNOUNCEMENT - timedelta(days=1))
    h.now = START + timedelta(minutes=10)
    for again in (False, True):  # the campaign's own reminder, then an extra copy
        (result,) = await h.operations.publish("russia-dprk-treaty", PostKind.REMINDER, targets=["telegram"],
                                               actor="t", again=again)
        assert result.result.value == "skipped"
        assert result.message.endswith("on telegram: skipped: too late: the event had already started")
    assert telegram_reminders(platforms) == []
    await h.close()


async def test_a_reminder_whose_step_runs_on_says_the_event_has_started(
    database_url: str, platforms: Platforms, workdir: Path
) -> None:
    path = workdir / "config" / "campaign.yaml"
    path.write_text(path.read_text().replace("at: start - 1h\n    catch_up: before_start",
                                             "at: start - 1h\n    catch_up: while_running"))
    h = Harness(database_url, ANNOUNCEMENT - timedelta(days=1))
    await h.at(START + timedelta(minutes=20))  # down until 20 minutes into the event
    assert h.post("reminder-1h", "telegram").state == "sent"
    (text,) = telegram_reminders(platforms)
    assert '▶️ Under way: it started <tg-time unix="1732694400" format="r">20 minutes ago</tg-time>' in text
    await h.close()

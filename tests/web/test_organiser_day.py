"""The organiser's day in real headless Chromium, end to end on the served app (issue 14's first "done when"):
duplicate the reference event and see the previews follow the form before saving; the announcement, which needs
an approver's sign-off, waits at its due time until the approver presses Approve under the request the chat bot
sent to the fake Telegram; the dispatcher then sends it; the reminders go out at their time; "We are live" with
a stream link sends the live posts, points the announcement at the stream and pins it. The fakes get exactly
the expected posts, edits and pins, each once. The clock is the test's; the dispatcher is driven by its own
entries (check_approvals, dispatch, drain), on the served app's loop. Screenshots at 1280 and 390 px are kept
under var/test-artifacts (day-*.png, day.txt)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from bot.chat import ChatBot, chat_bot
from bot.delivery import render_post
from bot.domain import Approval, PlannedPost, PostKind, PostState
from bot.platforms import visible_text
from bot.runtime import Runtime
from tests.chat.conftest import buttons
from tests.fakes.telegram import FakeTelegram, User
from tests.web.browser import DESKTOP, PHONE, Served, context, keep, launch, log_in, overflow, serious, shoot, watch
from tests.web.support import EVENT_ID, Clock, Site, SiteFactory

pytestmark = pytest.mark.slow  # Chromium

NEW_ID = "autumn-forum"
TITLE = {"en": "Autumn Forum on Northeast Asia", "ru": "Осенний форум о Северо-Восточной Азии"}
# The new event starts 12 November 2024, 11:00 Moscow time (08:00 UTC): before the reference event's campaign
# (its announcement is due on 20 November), so nothing of the reference event comes due during this day.
START = datetime(2024, 11, 12, 8, 0, tzinfo=UTC)
ANNOUNCED = START - timedelta(days=7)  # the campaign's announcement step: start - 7d
MORNING = ANNOUNCED - timedelta(hours=1)  # the organiser duplicates the event an hour before its announcement
STREAM = "https://valdaiclub.com/multimedia/video/autumn-forum/"
OLGA = User(id=1001, first_name="Olga", username="olga", language_code="en")
CHANNEL = "@valdaiclub"  # the `telegram` target: the fake Bot API; telegram_ru, vk and x write to the outbox


@pytest.fixture
def day(fake_telegram: FakeTelegram, make_site: SiteFactory, web_env: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Served, Site]]:
    """The served app (with a scheduler's operations: an approval sends at once what is due) on the tests' config
    whose announcement needs approval, Olga the approver, the live post pinning the Telegram announcement."""
    campaign = web_env / "config" / "campaign.yaml"
    text = campaign.read_text(encoding="utf-8")
    assert "    at: start - 7d\n" in text
    campaign.write_text(text.replace("    at: start - 7d\n", "    at: start - 7d\n    approval: required\n"),
                        encoding="utf-8")
    monkeypatch.setenv("ANNOUNCE_BOT_ADMIN__APPROVER_IDS", f"[{OLGA.id}]")
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__PIN_LIVE", "true")
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__RATE_LIMIT", "false")
    site = make_site(with_dispatcher=True, clock=Clock(MORNING))
    served = Served(site).start()
    yield served, site
    served.stop()


async def tick(runtime: Runtime) -> None:
    """What the running bot's sweep does at a moment: hold unapproved due posts, send the due ones, wait for them."""
    await runtime.dispatcher.check_approvals()
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()


def posts_of(site: Site, kind: PostKind | None = None) -> dict[tuple[str, str], PlannedPost]:
    return {(p.step_id, p.target): p for p in site.store.posts(NEW_ID) if kind is None or p.kind is kind}


def channel(fake: FakeTelegram) -> list[dict[str, Any]]:
    return fake.in_chat(CHANNEL)


def both_widths(page: Page, folder: Path, name: str, shots: list[Path]) -> str:
    """Screenshots at 1280 and 390 px; at both no serious or critical axe-core violation, at 390 no sideways
    scrolling. Returns what was checked."""
    page.set_viewport_size(DESKTOP)
    assert serious(page) == [], name
    shots.append(shoot(page, folder, f"day-{name}-1280"))
    page.set_viewport_size(PHONE)
    scroll, client = overflow(page)
    assert scroll <= client, (name, scroll, client)
    assert serious(page) == [], name
    shots.append(shoot(page, folder, f"day-{name}-390"))
    page.set_viewport_size(DESKTOP)
    return f"screenshots day-{name}-1280/-390: no serious axe violation, no sideways scrolling at 390 px"


def test_the_organisers_day_duplicate_approve_go_live(day: tuple[Served, Site], fake_telegram: FakeTelegram,
                                                       tmp_path: Path) -> None:
    served, site = day
    url, runtime, clock, fake = served.url, site.runtime, site.clock, fake_telegram
    checked: list[str] = []
    shots: list[Path] = []
    bot: ChatBot | None = None
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = context(browser, DESKTOP).new_page()
            errors = watch(page)
            log_in(page, url)

            # 1. Duplicate the reference event; the previews follow the form before anything is saved.
            page.goto(f"{url}/admin/events/{EVENT_ID}")
            page.get_by_role("link", name="Duplicate").click()
            expect(page).to_have_url(f"{url}/admin/editor/new?from={EVENT_ID}")
            expect(page.locator("#previews")).to_contain_text("The previews appear as soon as")
            page.evaluate("window.notReloaded = true")  # gone if the page were loaded again
            page.fill('input[name="id"]', NEW_ID)
            page.fill('input[name="start"]', "2024-11-12T11:00")
            page.fill('input[name="end"]', "2024-11-12T13:00")
            telegram = page.locator('#previews article.preview[data-target="telegram"][data-step="announcement"]')
            expect(telegram.locator(".tg-text").first).to_contain_text("November 12, 11:00 Moscow Time")
            expect(telegram.locator(".tg-text b").first).to_have_text(
                "Valdai Club to Discuss Russia-North Korea Treaty")
            page.fill('input[name="title.en"]', TITLE["en"])
            page.fill('input[name="title.ru"]', TITLE["ru"])
            expect(telegram.locator(".tg-text b").first).to_have_text(TITLE["en"])
            russian = page.locator('#previews article.preview[data-target="telegram_ru"][data-step="announcement"]')
            expect(russian.locator(".tg-text b").first).to_have_text(TITLE["ru"])
            page.select_option('select[name="status"]', "scheduled")
            assert page.evaluate("window.notReloaded") is True
            assert site.store.record(NEW_ID) is None
            checked.append("duplicated the reference event: typing the date and titles redrew the Telegram "
                           "previews in place (November 12, 11:00 Moscow Time; the new titles), no page load, "
                           "nothing saved yet")
            checked.append(both_widths(page, tmp_path, "1-editor", shots))
            page.get_by_role("button", name="Create the event").first.click()
            expect(page).to_have_url(f"{url}/admin/events/{NEW_ID}")
            expect(page.locator(".flash.ok")).to_contain_text(f"{NEW_ID} created: 21 post(s) planned")
            announcements = posts_of(site, PostKind.ANNOUNCEMENT)
            assert {t for _, t in announcements} == {"telegram", "telegram_ru", "vk", "x", "dzen"}
            assert {(p.due_at, p.state, p.approval) for p in announcements.values()} == {
                (ANNOUNCED, PostState.PLANNED, Approval.PENDING)}
            checked.append(f"saved {NEW_ID}: 21 posts; the 5 announcements due {ANNOUNCED:%Y-%m-%d %H:%M} UTC "
                           "(an hour from the test's clock) wait for an approver's sign-off")

            # 2. The chat bot asks the approver in Telegram, one message per target.
            async def start_bot() -> ChatBot:  # on the served app's loop, beside its dispatcher
                made = chat_bot(runtime.live, runtime.operations, alerts=runtime.alerts,
                                clock=clock, poll_timeout=1)
                await made.start()
                await made.approvals.ask()  # as its own loop does every half minute
                return made

            bot = served.call(start_bot)
            assert fake.wait_until(lambda: len(fake.in_chat(OLGA.id)) >= 5, 10)
            assert served.call(lambda: bot.approvals.ask()) == 0  # asked once
            requests = fake.in_chat(OLGA.id)
            assert len(requests) == 5 and all("Approval needed" in m["text"] for m in requests)
            assert all(TITLE["en"] in m["text"] or TITLE["ru"] in m["text"] for m in requests)
            assert channel(fake) == []
            checked.append("the chat bot asked Olga (the approver) in the fake Telegram: 5 requests, one per "
                           "target, each with the post as it will go out; asking again asked nobody")

            # 3. At its due time the unapproved announcement waits.
            clock.now = ANNOUNCED
            served.call(lambda: tick(runtime))
            assert {p.state for p in posts_of(site, PostKind.ANNOUNCEMENT).values()} == {PostState.AWAITING_APPROVAL}
            assert channel(fake) == []
            assert sum("is due but not approved" in a for a in runtime.alerts.sent) == 5
            page.goto(f"{url}/admin/events/{NEW_ID}")
            row = page.locator(f"#post-{announcements[('announcement', 'telegram')].id}")
            expect(row).to_have_attribute("data-state", "awaiting approval")
            expect(row.locator(".approval.pending")).to_contain_text("needs approval (approvers asked")
            checked.append("at its due time each announcement waits in 'awaiting approval' (the organiser alerted "
                           "once per post); nothing reached the channel")
            checked.append(both_widths(page, tmp_path, "2-awaiting-approval", shots))

            # 4. Olga presses Approve under each request: each goes out now, through the dispatcher.
            for request in requests:
                fake.press(OLGA, request["message_id"], buttons(request)["✅ Approve"])
            assert fake.wait_until(lambda: len(fake.callback_answers) >= 5 and len(fake.in_chat(OLGA.id)) >= 10, 15)
            served.call(lambda: tick(runtime))
            announcements = posts_of(site, PostKind.ANNOUNCEMENT)
            assert {(p.state, p.approval, p.approved_by) for p in announcements.values()} == {
                (PostState.SENT, Approval.APPROVED, f"telegram:{OLGA.id}")}
            assert all("approved by telegram:1001: it goes out now" in str(a["text"]) for a in fake.callback_answers)
            (sent,) = channel(fake)
            stored = site.store.record(NEW_ID)
            assert stored is not None
            expected = render_post(site.config, site.publisher.renderer, stored.event, PostKind.ANNOUNCEMENT,
                                   "telegram")
            assert sent["method"] == "sendMessage" and sent["text"] == expected.parts[0].text
            first_text = sent["text"]
            page.reload()
            row = page.locator(f"#post-{announcements[('announcement', 'telegram')].id}")
            expect(row).to_have_attribute("data-state", "sent")
            expect(row.locator(".approval.approved")).to_contain_text(f"approved by telegram:{OLGA.id}")
            expect(row.locator("a.post-link")).to_have_attribute("href", f"https://t.me/valdaiclub/{sent['message_id']}")
            checked.append("Olga pressed Approve under each request (the fake's callback): the announcements went "
                           "out at once, the Telegram one to the channel exactly as rendered; the dashboard shows "
                           "who approved it")
            checked.append(both_widths(page, tmp_path, "3-approved-sent", shots))

            # 5. The reminders go out at their time.
            for moment in (START - timedelta(days=1), START - timedelta(hours=1), START + timedelta(minutes=3)):
                clock.now = moment
                served.call(lambda: tick(runtime))
            reminders = posts_of(site, PostKind.REMINDER)
            assert {key: p.state for key, p in reminders.items()} == {
                # Not to Dzen: its step does not name it (a reminder there would be a second article).
                **{("reminder-1d", t): PostState.SENT for t in ("telegram", "telegram_ru", "vk", "x")},
                **{("reminder-1h", t): PostState.SENT for t in ("telegram", "telegram_ru", "x")}}
            lives = posts_of(site, PostKind.LIVE)
            assert {p.state for p in lives.values()} == {PostState.WAITING}  # due, but no stream link yet
            checked.append("the dispatcher, driven at a day and an hour before the start, sent the reminders on time "
                           "(reminder-1d to 4 targets, reminder-1h to 3); at the start the live posts wait for a link")

            # 6. "We are live" with the stream link, in the browser; pressed twice.
            # A week on by the test's clock, the 12-hour dashboard login has lapsed: the organiser logs in again.
            page.goto(f"{url}/admin/events/{NEW_ID}")
            expect(page).to_have_url(f"{url}/admin/login?next=/admin/events/{NEW_ID}")
            log_in(page, url)
            page.goto(f"{url}/admin/events/{NEW_ID}")
            expect(page.locator(f"#post-{lives[('live', 'telegram')].id}")).to_have_attribute("data-state", "waiting")
            page.fill("#live-website", STREAM)
            page.get_by_role("button", name="We are live").click()
            expect(page).to_have_url(f"{url}/admin/events/{NEW_ID}")
            expect(page.locator(".flash.ok")).to_contain_text(
                f"{NEW_ID} is live: telegram sent, telegram_ru sent, vk sent, x sent")
            checked.append(both_widths(page, tmp_path, "4-live", shots))
            page.get_by_role("button", name="We are live").click()
            expect(page.locator(".flash.ok")).to_contain_text("its live posts had gone out already")
            page.goto(f"{url}/events/{NEW_ID}")
            expect(page.locator(f'a[href="{STREAM}"]').first).to_be_visible()
            checked.append("'We are live' with the stream link (website) sent the 4 live posts and the public page "
                           "links the stream at once; pressed again, it sent nothing")
            assert errors == [], errors
        finally:
            if bot is not None:
                served.call(bot.stop)
            browser.close()

    # 7. Exactly what the fakes got, each once.
    announcement, reminder_1d, reminder_1h, live = channel(fake)  # four channel posts, no more
    assert [m["method"] for m in (announcement, reminder_1d, reminder_1h, live)] == ["sendMessage"] * 4
    # Edited once: the announcement as it reads now the broadcast is on, and the live teaser under it. (A
    # duplicate had no stream links, so its announcement promised none: it reads as first sent.)
    now = site.store.record(NEW_ID)
    assert now is not None and now.event.live == {"website": STREAM}
    renderer = site.publisher.renderer
    again = render_post(site.config, renderer, now.event, PostKind.ANNOUNCEMENT, "telegram",
                        live_now=True).parts[0].text
    assert "will be posted" not in again  # the broadcast is on: no promise of links to come
    teaser = render_post(site.config, renderer, now.event, PostKind.LIVE, "telegram").teaser
    assert teaser and STREAM in teaser and first_text == again
    assert announcement["text"] == f"{again}\n\n{teaser}"
    assert announcement.get("edits") == 1  # pointed at the stream once, by the live post
    assert [m.get("edits") for m in (reminder_1d, reminder_1h, live)] == [None, None, None]
    assert "Tomorrow" in reminder_1d["text"] and "Starts in an hour" in visible_text(reminder_1h["text"])
    assert "Live now" in live["text"] and STREAM in live["text"]
    assert fake.pinned == [announcement["message_id"]]
    assert calls_to(fake, CHANNEL) == {"sendMessage": 4, "editMessageText": 1, "pinChatMessage": 1}
    # Olga's chat: five requests, five confirmations (each a reply to its request), the buttons taken off each.
    olga = fake.in_chat(OLGA.id)
    assert len(olga) == 10 and sorted(m["reply_to"] for m in olga[5:]) == sorted(m["message_id"] for m in requests)
    assert calls_to(fake, str(OLGA.id)) == {"sendMessage": 10, "editMessageReplyMarkup": 5}
    assert len(fake.calls("answerCallbackQuery")) == 5
    # The targets without credentials: one outbox file per post (X's announcement in two parts), no edits.
    outbox = Counter(f"{path.parent.name}/{path.name.split('-', 1)[1]}"
                     for path in (site.workdir / "var" / "outbox").rglob("*.txt"))
    assert outbox == Counter({
        f"telegram/{NEW_ID}-announcement-telegram_ru.txt": 1, f"telegram/{NEW_ID}-reminder-telegram_ru.txt": 2,
        f"telegram/{NEW_ID}-live-telegram_ru.txt": 1,
        f"vk/{NEW_ID}-announcement-vk.txt": 1, f"vk/{NEW_ID}-reminder-vk.txt": 1, f"vk/{NEW_ID}-live-vk.txt": 1,
        f"x/{NEW_ID}-announcement-x-1of2.txt": 1, f"x/{NEW_ID}-announcement-x-2of2.txt": 1,
        f"x/{NEW_ID}-reminder-x.txt": 2, f"x/{NEW_ID}-live-x.txt": 1})
    feed = (site.workdir / "var" / "feeds" / "dzen.xml").read_text(encoding="utf-8")
    assert sorted(re.findall(r"<guid[^>]*>([^<]+)</guid>", feed)) == [f"{NEW_ID}-announcement"]  # one article
    # The store agrees: everything sent once (one delivery each), the summary waiting for a report.
    states = {(p.step_id, p.target): p.state for p in site.store.posts(NEW_ID)}
    assert {key for key, state in states.items() if state is not PostState.SENT} == {
        ("summary", t) for t in ("telegram", "telegram_ru", "vk", "x", "dzen")}
    assert {states[key] for key in states if key[0] == "summary"} == {PostState.WAITING}
    deliveries = Counter(d.planned_post_id for d in site.store.deliveries(NEW_ID, limit=1000))
    sent = {p.id for p in site.store.posts(NEW_ID) if p.state is PostState.SENT}
    assert set(deliveries) == sent and len(sent) == 5 + 4 + 3 + 4 and set(deliveries.values()) == {1}
    assert runtime.alerts.sent == [a for a in runtime.alerts.sent if "is due but not approved" in a]
    assert site.store.posts(EVENT_ID) and all(p.state is not PostState.SENT for p in site.store.posts(EVENT_ID))
    checked.append(
        "the fake Telegram channel got exactly 4 messages (announcement, reminder-1d, reminder-1h, live), 1 "
        "editMessageText (the announcement, now with the stream link) and 1 pin (the announcement); Olga's chat "
        "5 requests and 5 confirmations; the outbox one file per post for telegram_ru, vk and x (X's announcement "
        "in 2 parts), the Dzen feed 2 items; one delivery per post; nothing of the reference event sent")
    keep(shots, "day.txt", checked)


def calls_to(fake: FakeTelegram, chat_id: str) -> dict[str, int]:
    """How many requests of each chat method the fake answered for one chat, whatever their answer."""
    counts = Counter(request.path.rsplit("/", 1)[-1] for request in fake.requests
                     if str(request.params.get("chat_id")) == chat_id)
    return dict(counts)

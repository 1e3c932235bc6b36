"""The dashboard's actions against the real publisher: publish now (fake Telegram, outbox), retry and skip."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bot.delivery import render_post
from bot.domain import PostKind
from bot.storage import Claims
from tests.fakes.telegram import FakeTelegram
from tests.web.support import EVENT_ID, Site, client_for, csrf_of, login

START_OF_EVENT = datetime(2024, 11, 27, 8, 0, tzinfo=UTC)


async def _act(http: httpx.AsyncClient, post_id: int, action: str) -> str:
    """Press a button on the event page; returns the page the dashboard sends us back to."""
    page = await http.get(f"/admin/events/{EVENT_ID}")
    answer = await http.post(f"/admin/posts/{post_id}/{action}", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/admin/events/{EVENT_ID}#post-{post_id}"
    back = await http.get(answer.headers["location"].split("#")[0])
    return html.unescape(back.text)


def _row(page: str, post_id: int) -> str:
    row = page[page.index(f'id="post-{post_id}"'):]
    return row[:row.index("</tr>")]


async def test_publish_now_sends_through_the_fake_telegram_and_marks_it_sent(
    telegram_site: Site, fake_telegram: FakeTelegram
) -> None:
    site = telegram_site
    post_id = site.post_id("announcement", "telegram")
    async with client_for(site) as http:
        await login(http)
        page = await _act(http, post_id, "publish")
        assert len(fake_telegram.messages) == 1
        sent = fake_telegram.messages[0]
        event = site.store.event(EVENT_ID)
        assert event is not None
        expected = render_post(site.config, site.publisher.renderer, event, PostKind.ANNOUNCEMENT, "telegram")
        assert sent["text"] == expected.parts[0].text  # what the preview showed is what went out
        link = f"https://t.me/valdaiclub/{sent['message_id']}"
        assert site.state(post_id) == "sent"
        assert f"#{post_id} russia-dprk-treaty announcement on telegram: sent 2024-11-25 09:00 UTC → {link}" in page
        row = _row(page, post_id)
        assert 'data-state="sent"' in row and f'href="{link}"' in row and "/publish" not in row
        # The delivery is recorded for the planned post.
        delivery = site.store.deliveries(EVENT_ID, limit=1)[0]
        assert (delivery.planned_post_id, delivery.state, delivery.link) == (post_id, "sent", link)
        # Pressing it again (an old tab) sends nothing twice.
        again = await http.post(f"/admin/posts/{post_id}/publish", data={"csrf_token": csrf_of(page)})
        assert again.status_code == 303
        assert len(fake_telegram.messages) == 1
        follow = html.unescape((await http.get(f"/admin/events/{EVENT_ID}")).text)
        assert f"#{post_id} russia-dprk-treaty announcement on telegram was already sent" in follow
    await site.publisher.aclose()


async def test_publish_now_without_credentials_goes_to_the_outbox(site: Site, admin: httpx.AsyncClient) -> None:
    post_id = site.post_id("live", "vk")
    page = await _act(admin, post_id, "publish")
    assert site.state(post_id) == "sent"
    files = list((site.workdir / "var" / "outbox" / "vk").glob("*.txt"))
    assert len(files) == 1 and "https://vk.com/valdaiclub" in files[0].read_text()
    link = next(p.link for p in site.store.posts(EVENT_ID) if p.id == post_id)
    assert link is not None and link.startswith("file:")
    assert Path(urlsplit(link).path) == files[0].resolve()
    assert f"#{post_id} russia-dprk-treaty live on vk: sent 2024-11-25 09:00 UTC → {link}" in page


async def test_a_failed_publish_shows_the_error_then_retry_and_publish_now_send_it(
    telegram_site: Site, fake_telegram: FakeTelegram
) -> None:
    site = telegram_site
    post_id = site.post_id("reminder-1d", "telegram")
    fake_telegram.fail_method("sendMessage", FakeTelegram.kicked())
    async with client_for(site) as http:
        await login(http)
        page = await _act(http, post_id, "publish")
        assert site.state(post_id) == "failed"
        assert f"#{post_id} russia-dprk-treaty reminder-1d on telegram: failed: CredentialsError" in page
        row = _row(page, post_id)
        assert "kicked" in row  # the error, in the timeline
        assert f"/admin/posts/{post_id}/retry" in row and f"/admin/posts/{post_id}/publish" in row

        page = await _act(http, post_id, "retry")
        assert site.state(post_id) == "planned"
        assert f"#{post_id} russia-dprk-treaty reminder-1d on telegram is planned again" in page

        page = await _act(http, post_id, "publish")
        assert site.state(post_id) == "sent"
        assert len(fake_telegram.messages) == 1 and "Tomorrow, November 27" in fake_telegram.messages[0]["text"]
        post = next(p for p in site.store.posts(EVENT_ID) if p.id == post_id)
        assert post.attempts == 1  # counted afresh after the organiser's retry
    await site.publisher.aclose()


async def test_publish_now_of_a_failed_post_sends_it_at_once(
    telegram_site: Site, fake_telegram: FakeTelegram
) -> None:
    site = telegram_site
    post_id = site.post_id("live", "telegram")
    fake_telegram.fail_method("sendMessage", FakeTelegram.kicked())
    async with client_for(site) as http:
        await login(http)
        await _act(http, post_id, "publish")
        assert site.state(post_id) == "failed"
        await _act(http, post_id, "publish")
        assert site.state(post_id) == "sent"
    await site.publisher.aclose()


async def test_a_transient_failure_shows_the_next_retry(telegram_site: Site, fake_telegram: FakeTelegram) -> None:
    site = telegram_site
    post_id = site.post_id("announcement", "telegram")
    fake_telegram.fail_method("sendMessage", FakeTelegram.server_error())
    async with client_for(site) as http:
        await login(http)
        page = await _act(http, post_id, "publish")
        post = next(p for p in site.store.posts(EVENT_ID) if p.id == post_id)
        assert post.state == "retrying" and post.next_attempt_at is not None
        row = _row(page, post_id)
        assert "next retry" in row and post.next_attempt_at.strftime("%Y-%m-%d %H:%M UTC") in row
    await site.publisher.aclose()


async def test_skip_keeps_a_post_from_going_out(site: Site, admin: httpx.AsyncClient) -> None:
    post_id = site.post_id("reminder-1h", "x")
    page = await _act(admin, post_id, "skip")
    assert site.state(post_id) == "skipped"
    assert f"#{post_id} russia-dprk-treaty reminder-1h on x skipped: it will not be sent" in page
    assert "skipped by the organiser" in _row(page, post_id)
    # The scheduler will not claim it, however late it gets.
    event = site.store.event(EVENT_ID)
    assert event is not None
    claimed = Claims(site.store.sessions).claim_due(event.end, "a-scheduler")
    assert post_id not in {p.id for p in claimed} and claimed
    # Skipping twice is refused, and a skipped post can be retried.
    page = await _act(admin, post_id, "skip")
    assert f"#{post_id} russia-dprk-treaty reminder-1h on x is skipped: skipped by the organiser (admin): skip" \
        in page
    page = await _act(admin, post_id, "retry")
    assert site.state(post_id) == "planned"


async def test_retry_of_a_planned_post_is_refused(site: Site, admin: httpx.AsyncClient) -> None:
    post_id = site.post_id("announcement", "x")
    page = await _act(admin, post_id, "retry")
    assert site.state(post_id) == "planned"
    assert "retry applies to failed, retrying, skipped, unknown posts" in page


async def test_unknown_post_is_404(site: Site, admin: httpx.AsyncClient) -> None:
    page = await admin.get(f"/admin/events/{EVENT_ID}")
    answer = await admin.post("/admin/posts/99999/publish", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 404


async def test_publish_now_leaves_a_post_the_scheduler_is_sending_alone(site: Site, admin: httpx.AsyncClient) -> None:
    post_id = site.post_id("announcement", "vk")
    event = site.store.event(EVENT_ID)
    assert event is not None
    # The scheduler claimed it a moment ago and is sending it.
    claimed = Claims(site.store.sessions).claim_due(event.start, "the-scheduler")
    assert post_id in {p.id for p in claimed}
    page = await _act(admin, post_id, "publish")
    assert f"#{post_id} russia-dprk-treaty announcement on vk is being sent right now" in page
    assert not (site.workdir / "var" / "outbox" / "vk").exists()  # nothing was sent a second time
    post = next(p for p in site.store.posts(EVENT_ID) if p.id == post_id)
    assert (post.state, post.claimed_by) == ("claimed", "the-scheduler")
    assert 'data-state="claimed"' in _row(page, post_id) and "/publish" not in _row(page, post_id)


async def test_we_are_live_sets_the_links_and_sends_the_live_posts_once(site: Site, client: httpx.AsyncClient) -> None:
    site.clock.now = START_OF_EVENT + timedelta(minutes=2)
    admin = client
    await login(admin)
    page = await admin.get(f"/admin/events/{EVENT_ID}")
    assert 'action="/admin/events/russia-dprk-treaty/live"' in page.text
    link = "https://vkvideo.ru/video-89190013_1"
    answer = await admin.post(f"/admin/events/{EVENT_ID}/live",
                              data={"csrf_token": csrf_of(page.text), "live-vk": link})
    assert answer.status_code == 303
    back = html.unescape((await admin.get(f"/admin/events/{EVENT_ID}")).text)
    assert "russia-dprk-treaty is live: " in back and "vk sent" in back
    event = site.store.event(EVENT_ID)
    assert event is not None and event.live["vk"] == link
    files = sorted((site.workdir / "var" / "outbox").rglob("*live*"))
    assert {f.parent.name for f in files} == {"telegram", "vk", "x"}  # no credentials in these tests: the outbox
    assert link in next(f for f in files if f.parent.name == "vk").read_text()
    again = await admin.post(f"/admin/events/{EVENT_ID}/live", data={"csrf_token": csrf_of(back), "live-vk": link})
    assert again.status_code == 303 and sorted((site.workdir / "var" / "outbox").rglob("*live*")) == files


async def test_the_recording_form_sends_the_summary_with_it_and_the_public_page_shows_it(
    site: Site, client: httpx.AsyncClient
) -> None:
    site.clock.now = START_OF_EVENT + timedelta(hours=6)  # the summary (end + 3h) is due, and went out
    admin = client
    await login(admin)
    await site.runtime.dispatcher.dispatch()
    await site.runtime.dispatcher.drain()
    page = await admin.get(f"/admin/events/{EVENT_ID}")
    assert 'action="/admin/events/russia-dprk-treaty/recording"' in page.text
    link = "https://rutube.ru/video/0f1e2d3c4b5a/"
    answer = await admin.post(f"/admin/events/{EVENT_ID}/recording",
                              data={"csrf_token": csrf_of(page.text), "recording-rutube": link})
    assert answer.status_code == 303
    back = html.unescape((await admin.get(f"/admin/events/{EVENT_ID}")).text)
    assert "recording set; " in back and "vk edited sent" in back
    edits = sorted((site.workdir / "var" / "outbox").rglob("*summary*-edit.txt"))
    assert {f.parent.name for f in edits} == {"telegram", "vk", "x"} and all(link in f.read_text() for f in edits)
    public = html.unescape((await client.get(f"/events/{EVENT_ID}")).text)
    assert 'id="recording"' in public and f'<a href="{link}" rel="noopener">Rutube</a>' in public

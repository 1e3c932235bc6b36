"""The dashboard on the embedded defaults: events at a glance, the timeline, previews, subscribers, deliveries."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx

from bot.delivery import render_post
from bot.domain import Cover, PostKind
from bot.errors import CredentialsError, TransientError
from bot.platforms import SPECS
from bot.storage.tables import SubscriberRow
from bot.web.previews import event_previews
from tests.web.support import EVENT_ID, Site, attempt


def _card(page: str, step: str, target: str) -> str:
    """The HTML of one preview card."""
    start = page.index(f'data-target="{target}" data-lang="')
    start = page.rindex("<article", 0, start)
    while f'data-step="{step}"' not in page[start:page.index(">", start)]:
        start = page.index("<article", start + 1)
        start = page.index(f'data-target="{target}"', start)
        start = page.rindex("<article", 0, start)
    return page[start:page.index("</article>", start)]


async def test_index_lists_events_with_their_next_post(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/admin")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert f'<a href="/admin/events/{EVENT_ID}">Valdai Club to Discuss Russia-North Korea Treaty</a>' in page.text
    assert "2024-11-27 11:00 MSK" in page.text
    # The earliest planned post: the announcement, on the first target in name order.
    assert "announcement → dzen" in page.text and "2024-11-20 11:00 MSK" in page.text
    assert "0/21" in page.text
    assert "No subscribers yet." in page.text and "Nothing sent yet." in page.text


async def test_index_shows_a_failure_at_a_glance(site: Site, admin: httpx.AsyncClient) -> None:
    attempt(site, "announcement", "vk", error=CredentialsError("the VK token was revoked"))
    page = (await admin.get("/admin")).text
    assert "1 failed" in page
    assert "announcement on vk: CredentialsError: the VK token was revoked" in page


async def test_index_counts_subscribers_per_language_and_shows_deliveries(
    site: Site, admin: httpx.AsyncClient
) -> None:
    with site.store.sessions.begin() as session:
        session.add_all([
            SubscriberRow(user_id=1, chat_id=1, lang="ru"), SubscriberRow(user_id=2, chat_id=2, lang="ru"),
            SubscriberRow(user_id=3, chat_id=3, lang="en"),
            SubscriberRow(user_id=4, chat_id=4, lang="en", active=False),  # unsubscribed: not counted
        ])
    attempt(site, "announcement", "x", error=TransientError("X answered 503"))
    page = (await admin.get("/admin")).text
    table = page[page.index('id="subscribers"'):page.index("</table>", page.index('id="subscribers"'))]
    assert re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td></tr>", table) == [("en", "1"), ("ru", "2")]
    deliveries = page[page.index('id="deliveries"'):]
    assert "retrying" in deliveries and "X answered 503" in deliveries


async def test_event_timeline_in_local_time_and_utc_with_actions(site: Site, admin: httpx.AsyncClient) -> None:
    page = await admin.get(f"/admin/events/{EVENT_ID}")
    assert page.status_code == 200
    rows = re.findall(r'<tr id="post-(\d+)" data-post-id="\d+" data-step="([\w-]+)" data-target="(\w+)" '
                      r'data-state="(\w+)">', page.text)
    assert len(rows) == 21
    assert {state for *_, state in rows} == {"planned"}
    live_x = site.post_id("live", "x")
    row = page.text[page.text.index(f'id="post-{live_x}"'):]
    row = row[:row.index("</tr>")]
    assert "2024-11-27 11:00 MSK" in row and "2024-11-27 08:00 UTC" in row
    assert f'action="/admin/posts/{live_x}/publish"' in row and f'action="/admin/posts/{live_x}/skip"' in row
    assert "/retry" not in row  # a planned post has nothing to retry
    summary = site.post_id("summary", "vk")
    row = page.text[page.text.index(f'id="post-{summary}"'):]
    row = row[:row.index("</tr>")]
    assert "2024-11-27 16:00 MSK" in row and "2024-11-27 13:00 UTC" in row  # end + 3h


async def test_previews_are_the_real_posts_for_every_platform_and_language(
    site: Site, admin: httpx.AsyncClient
) -> None:
    page = (await admin.get(f"/admin/events/{EVENT_ID}")).text
    event = site.store.event(EVENT_ID)
    assert event is not None
    renderer = site.publisher.renderer
    seen = set()
    for step in site.config.campaign.steps:
        for target in (n for n, t in site.config.settings.targets.items()
                       if t.platform in site.config.campaign.platforms_of(step)):
            post = render_post(site.config, renderer, event, step.kind, target, step)
            card = _card(page, step.id, target)
            spec = SPECS[post.platform]
            seen.add((post.platform.value, post.lang))
            for part in post.parts:
                # The very lengths the platform counts, against its limit.
                assert f"<b>{part.length}</b> / {spec.max_length}" in card, (step.id, target)
            if len(post.parts) > 1:
                assert f"split into {len(post.parts)} parts to fit" in card
            else:
                assert "not split" in card
    assert seen == {("telegram", "en"), ("telegram", "ru"), ("vk", "ru"), ("x", "en"), ("dzen", "ru")}
    # The X announcement is a thread of two posts; it is marked as split.
    x_card = _card(page, "announcement", "x")
    assert x_card.count('class="x-post') == 2 and "split into 2 parts to fit" in x_card
    # Telegram's formatting is drawn (bold title, links), not shown as tags.
    tg = _card(page, "announcement", "telegram")
    assert "<b>Valdai Club to Discuss Russia-North Korea Treaty</b>" in tg
    assert '<a href="https://valdaiclub.com/events/announcements/russia-dprk-treaty/" rel="noopener' in tg
    assert "&lt;b&gt;" not in tg
    # The Dzen card: title, lead and the article body.
    dzen = _card(page, "announcement", "dzen")
    assert 'class="dzen-title">Клуб «Валдай» обсудит договор России и КНДР</h4>' in dzen
    assert "<p>" in dzen and "Дмитрий Кику" in dzen


async def test_preview_counts_the_first_part_against_the_caption_limit_with_a_cover(
    site: Site, admin: httpx.AsyncClient
) -> None:
    event = site.store.event(EVENT_ID)
    assert event is not None
    with_cover = event.model_copy(update={"cover": Cover(url="https://valdaiclub.com/cover.jpg")})
    groups = event_previews(site.config, site.publisher.renderer, with_cover)
    announcement = next(g for g in groups if g.step_id == "announcement")
    telegram = next(p for p in announcement.previews if p.target == "telegram")
    assert telegram.post is not None and telegram.post.image == "https://valdaiclub.com/cover.jpg"
    first = telegram.parts[0]
    assert first.limit == 1024 and first.limit_name == "caption" and first.length <= 1024
    assert all(part.limit == 4096 for part in telegram.parts[1:])
    assert telegram.split  # the long announcement no longer fits one caption
    vk = next(p for p in announcement.previews if p.target == "vk")
    assert vk.parts[0].limit == 16384  # VK has no caption limit


async def test_a_post_that_cannot_render_shows_why(site: Site, admin: httpx.AsyncClient) -> None:
    (site.workdir / "templates" / "live.en.j2").write_text("{{ event.no_such_field }}\n")
    page = (await admin.get(f"/admin/events/{EVENT_ID}")).text
    card = _card(page, "live", "telegram")
    assert "This post cannot be rendered" in card and "no_such_field" in html.unescape(card)
    assert "This post cannot be rendered" not in _card(page, "live", "telegram_ru")


async def test_change_notice_preview_is_included(admin: httpx.AsyncClient) -> None:
    page = (await admin.get(f"/admin/events/{EVENT_ID}")).text
    assert 'class="preview-group" data-step="changed"' in page
    assert "sent if the time changes or the event is postponed or cancelled" in page


async def test_unknown_event_in_dashboard_is_404(admin: httpx.AsyncClient) -> None:
    assert (await admin.get("/admin/events/nope")).status_code == 404


def test_previews_use_the_kind_of_each_step(site: Site) -> None:
    event = site.store.event(EVENT_ID)
    assert event is not None
    groups = event_previews(site.config, site.publisher.renderer, event)
    assert [g.step_id for g in groups] == ["announcement", "reminder-1d", "reminder-1h", "live", "summary", "changed"]
    reminder_1h = next(g for g in groups if g.step_id == "reminder-1h")
    assert reminder_1h.kind is PostKind.REMINDER
    assert {p.target for p in reminder_1h.previews} == {"telegram", "telegram_ru", "x"}
    assert all("in an hour" in p.parts[0].source for p in reminder_1h.previews if p.lang == "en")
    assert reminder_1h.due == event.start - timedelta(hours=1)

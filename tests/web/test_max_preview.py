"""The dashboard's preview of a MAX post: drawn as MAX shows a channel message, only MAX's own tags kept, its length
counted as MAX counts it (the text as sent, tags included) against 4,000."""

from __future__ import annotations

from pathlib import Path

from bot.rendering.markup import MAX_TAGS
from bot.web.previews import MAX_TO_HTML, max_html
from tests.web.support import EVENT_ID, SiteFactory, client_for, login


def test_every_tag_max_knows_is_drawn_and_nothing_else() -> None:
    assert set(MAX_TO_HTML) == set(MAX_TAGS)
    drawn = max_html('<b>Title</b> <mark>hot</mark> <h1>Head</h1> <tg-spoiler>no</tg-spoiler> '
                     '<a href="javascript:alert(1)">x</a> <script>alert(1)</script>')
    assert drawn.startswith("<b>Title</b> <mark>hot</mark> <strong>Head</strong> no ")
    assert "javascript:" not in drawn and "<script" not in drawn and "tg-spoiler" not in drawn


async def test_the_event_page_previews_the_max_posts_as_max_shows_them(web_env: Path, make_site: SiteFactory) -> None:
    config = web_env / "config"
    with (config / "settings.toml").open("a", encoding="utf-8") as settings:
        settings.write('\n[targets.max]\nplatform = "max"\nlang = "ru"\nchat_id = "-72000000000000"\n')
    campaign = config / "campaign.yaml"
    campaign.write_text(campaign.read_text().replace("platforms: [telegram, vk, x, dzen]",
                                                     "platforms: [telegram, vk, x, dzen, max]"))
    site = make_site()
    async with client_for(site) as client:
        assert (await login(client)).status_code == 303
        page = (await client.get(f"/admin/events/{EVENT_ID}")).text
    await site.publisher.aclose()
    start = page.index('<article class="preview max" data-platform="max" data-target="max" data-lang="ru" '
                       'data-step="announcement">')
    card = page[start:page.index("</article>", start)]
    assert 'class="max-chat"' in card and card.count('class="max-message"') == 1
    assert "<b>Клуб «Валдай» обсудит договор России и КНДР</b>" in card and "&lt;b&gt;" not in card
    post = next(p for p in site.store.posts(EVENT_ID) if p.target == "max" and p.step_id == "announcement")
    assert post.state.value == "planned"
    assert "/ 4000" in card and "markup:" not in card and "over the limit" not in card


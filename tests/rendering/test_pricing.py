"""What an X post costs (bot.rendering.pricing) and where the renderer puts its links (X's link_placement)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from twitter_text import extract_urls

from bot.config.settings import Settings, XTarget
from bot.domain import Event, Part, Platform, PostKind, RenderedPost
from bot.platforms import LinkPlacement, XPrices
from bot.rendering.pricing import price
from bot.rendering.renderer import Destination, Renderer

EVENT_URL = "https://valdaiclub.com/events/announcements/russia-dprk-treaty/"
X_STREAM = "https://x.com/valdaiclub"
SITE_STREAM = "https://valdaiclub.com/multimedia/video/russia-dprk-treaty/"


def render_x(
    renderer: Renderer, event: Event, kind: PostKind, placement: LinkPlacement | None, lang: str = "en"
) -> RenderedPost:
    destination = Destination(target="x", platform=Platform.X, lang=lang, link_placement=placement)
    return renderer.render(event, kind, destination)


def urls(part: Part) -> list[str]:
    return list(extract_urls(part.text))


# --- the reference event's announcement thread ------------------------------------------------------------


def test_a_two_tweet_thread_with_the_link_in_each_costs_forty_cents(renderer: Renderer, reference_event: Event) -> None:
    post = render_x(renderer, reference_event, PostKind.ANNOUNCEMENT, LinkPlacement.EVERY)
    assert len(post.parts) == 2
    assert all(urls(part) == [EVENT_URL] for part in post.parts)
    cost = price(post)
    assert cost is not None
    assert cost.parts == (Decimal("0.20"), Decimal("0.20"))
    assert cost.total == Decimal("0.40")
    assert cost.with_url == 2


def test_the_link_in_the_last_tweet_only_costs_one_url_post(renderer: Renderer, reference_event: Event) -> None:
    post = render_x(renderer, reference_event, PostKind.ANNOUNCEMENT, LinkPlacement.LAST)
    assert [urls(part) for part in post.parts] == [[], [EVENT_URL]]
    cost = price(post)
    assert cost is not None
    assert cost.parts == (Decimal("0.015"), Decimal("0.20"))
    assert cost.total == Decimal("0.215")


def test_no_link_costs_only_the_posts(renderer: Renderer, reference_event: Event) -> None:
    post = render_x(renderer, reference_event, PostKind.ANNOUNCEMENT, LinkPlacement.NONE)
    assert all(urls(part) == [] for part in post.parts)
    cost = price(post)
    assert cost is not None
    assert cost.total == Decimal("0.015") * len(post.parts)
    assert cost.with_url == 0
    # The post still knows its link (the card, the dashboard, the receipt use it).
    assert post.link == EVENT_URL


def test_last_is_the_default_placement_on_x(renderer: Renderer, reference_event: Event) -> None:
    assert render_x(renderer, reference_event, PostKind.ANNOUNCEMENT, None) == render_x(
        renderer, reference_event, PostKind.ANNOUNCEMENT, LinkPlacement.LAST
    )
    assert XTarget(platform=Platform.X).link_placement is LinkPlacement.LAST


@pytest.mark.parametrize("placement", list(LinkPlacement))
@pytest.mark.parametrize("kind", [k for k in PostKind])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_x_post_places_its_links_as_told_and_fits(
    renderer: Renderer, reference_event: Event, placement: LinkPlacement, kind: PostKind, lang: str
) -> None:
    post = render_x(renderer, reference_event, kind, placement, lang)
    found = [urls(part) for part in post.parts]
    expected = [SITE_STREAM, X_STREAM] if kind is PostKind.LIVE else [EVENT_URL]
    if placement is LinkPlacement.EVERY:
        assert all(sorted(links) == sorted(expected) for links in found)
    elif placement is LinkPlacement.LAST:
        assert all(links == [] for links in found[:-1])
        assert sorted(found[-1]) == sorted(expected)
    else:
        assert all(links == [] for links in found)
    assert all(part.length <= 280 for part in post.parts)


def test_a_single_live_post_carries_its_stream_and_the_website_stream(
    renderer: Renderer, reference_event: Event
) -> None:
    post = render_x(renderer, reference_event, PostKind.LIVE, None)
    assert len(post.parts) == 1
    assert post.parts[0].text.endswith(f"{X_STREAM}\n{SITE_STREAM}")
    assert post.link == X_STREAM


def test_placement_does_not_change_other_platforms(renderer: Renderer, reference_event: Event) -> None:
    for placement in LinkPlacement:
        destination = Destination(target="vk", platform=Platform.VK, lang="ru", link_placement=placement)
        post = renderer.render(reference_event, PostKind.ANNOUNCEMENT, destination)
        assert post.text.count(EVENT_URL) == 1


# --- the price function -----------------------------------------------------------------------------------


def post_of(*texts: str, platform: Platform = Platform.X) -> RenderedPost:
    return RenderedPost(
        event_id="e", kind=PostKind.ANNOUNCEMENT, target=platform.value, platform=platform, lang="en",
        markup="text", parts=tuple(Part(text=t, length=len(t)) for t in texts), limit=280,
    )


def test_a_bare_domain_is_a_url_as_x_counts_it() -> None:
    cost = price(post_of("Details on valdaiclub.com", "No link here, #Valdai 2/2"))
    assert cost is not None
    assert cost.parts == (Decimal("0.20"), Decimal("0.015"))


def test_prices_come_from_the_x_target_settings() -> None:
    settings = Settings.model_validate(
        {"targets": {"x": {"platform": "x", "price_per_post": "0.02", "price_per_post_with_url": "0.25"}}}
    )
    target = settings.targets["x"]
    assert isinstance(target, XTarget)
    assert target.prices == XPrices(per_post=Decimal("0.02"), per_post_with_url=Decimal("0.25"))
    cost = price(post_of("https://valdaiclub.com", "text"), target.prices)
    assert cost is not None
    assert cost.total == Decimal("0.27")


def test_the_defaults_are_the_documented_prices() -> None:
    target = XTarget(platform=Platform.X)
    assert (target.price_per_post, target.price_per_post_with_url) == (Decimal("0.015"), Decimal("0.20"))


@pytest.mark.parametrize("platform", [Platform.TELEGRAM, Platform.VK, Platform.DZEN])
def test_platforms_that_do_not_bill_per_post_have_no_price(platform: Platform) -> None:
    assert price(post_of("https://valdaiclub.com", platform=platform)) is None


def test_a_negative_price_is_refused() -> None:
    with pytest.raises(ValueError, match="price_per_post"):
        XTarget.model_validate({"platform": "x", "price_per_post": "-1"})

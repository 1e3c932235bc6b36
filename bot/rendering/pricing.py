"""What a rendered post costs to publish on a platform that bills per post (X), part by part."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from twitter_text import extract_urls

from bot.domain import Platform, RenderedPost
from bot.platforms import XPrices


@dataclass(frozen=True, kw_only=True)
class PostPrice:
    """The price of each part (tweet) of a post and of the whole post, in US dollars."""

    parts: tuple[Decimal, ...]
    total: Decimal
    with_url: int  # how many parts contain a URL, the dearer kind


def price(post: RenderedPost, prices: XPrices | None = None) -> PostPrice | None:
    """The post's price on X (None for a platform that does not bill per post).

    A part "contains a URL" as X decides it: twitter-text, X's own parser, finds bare domains too
    ("valdaiclub.com"), so this counts what X will bill, not only the links the templates wrote.
    """
    if post.platform is not Platform.X:
        return None
    prices = prices or XPrices()
    linked = [bool(extract_urls(part.text)) for part in post.parts]
    each = tuple(prices.per_post_with_url if has_url else prices.per_post for has_url in linked)
    return PostPrice(parts=each, total=sum(each, Decimal(0)), with_url=sum(linked))

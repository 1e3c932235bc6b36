"""Each platform's limits and markup, declared once; rendering fits posts to them, adapters cite them."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from twitter_text import parse_tweet

from bot.domain import Platform


class Markup(StrEnum):
    TELEGRAM_HTML = "telegram_html"  # Telegram's HTML parse mode: a handful of tags, newlines as breaks
    TEXT = "text"  # plain text (VK, X): nothing escaped, or they would publish '&amp;'
    DZEN_HTML = "dzen_html"  # article HTML for Dzen's RSS import (`content:encoded`)
    MAX_HTML = "max_html"  # MAX's `format: "html"`: a handful of tags (others are stripped), newlines as breaks

    @property
    def is_html(self) -> bool:
        return self is not Markup.TEXT


class LinkPlacement(StrEnum):
    """Where the renderer puts a post's links on a platform that bills a post with a URL more (X)."""

    EVERY = "every"  # every part of a thread carries the link
    LAST = "last"  # only the last part (a single post is its own last part)
    NONE = "none"  # no link in the text: the event card or image carries it


@dataclass(frozen=True, kw_only=True)
class XPrices:
    """What X bills per post created, in US dollars (docs.x.com pricing, 2026: pay per use, no free tier)."""

    per_post: Decimal = Decimal("0.015")
    per_post_with_url: Decimal = Decimal("0.20")


_TAG = re.compile(r"<[^>]*>")


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_text(markup: str) -> str:
    """What a reader sees of Telegram HTML: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", markup))


def telegram_length(markup: str) -> int:
    # Telegram counts after entity parsing, in UTF-16 code units (tags do not count, '&amp;' counts 1).
    return utf16_units(visible_text(markup))


def markup_units(markup: str) -> int:
    # MAX checks `text` as sent, tags and entities included ('<b>' counts 3, '&amp;' 5), in UTF-16 code units
    # (its schema's maxLength; counting UTF-16 units is the stricter reading where the two differ).
    return utf16_units(markup)


def x_weighted_length(text: str) -> int:
    # X's own weighting (URLs 23, CJK and emoji 2) as implemented by twitter-text.
    return int(parse_tweet(text).weightedLength)


def char_length(text: str) -> int:
    return len(text)


@dataclass(frozen=True, kw_only=True)
class PlatformSpec:
    """A platform's limits: what one message may hold and how a longer post is split."""

    platform: Platform
    label: str
    markup: Markup
    max_length: int
    measure: Callable[[str], int]
    caption_length: int | None = None
    max_parts: int = 1
    number_parts: bool = False  # "1/3" at the end of each part of a thread
    # The documented rate limits of one token, as (at most N requests, in any T seconds): across all its chats,
    # and within one chat. bot/ratelimit.py enforces them for channel posts, reminders and chat replies alike.
    windows: tuple[tuple[int, float], ...] = ()
    chat_windows: tuple[tuple[int, float], ...] = ()  # a group or channel
    private_chat_windows: tuple[tuple[int, float], ...] = ()  # a person's private chat with the bot
    # The ceiling of messages sent as paid broadcasts, which do not count against `windows` but do count here
    # (as does everything else the token sends).
    paid_windows: tuple[tuple[int, float], ...] = ()
    # The limits of reading a post's metrics back when the platform counts them apart from posting (X, per endpoint);
    # empty: reads share `windows` with everything else the token sends (VK counts all its methods together).
    read_windows: tuple[tuple[int, float], ...] = ()
    # Where links go when the target does not say: None lets the templates place them (the platform charges
    # nothing per link); otherwise the renderer places them, and the platform's templates write none.
    link_placement: LinkPlacement | None = None

    # True when the markup's tags count towards `max_length` (MAX): splitting then leaves room for the tags it
    # closes at the end of a part and reopens at the start of the next.
    tags_count: bool = False

    def fits(self, text: str) -> bool:
        return self.measure(text) <= self.max_length

    def part_limit(self, index: int, *, image: bool) -> int:
        """What part number `index` (0 the first) may hold: a post with an image goes out as one whose caption
        (its first part) is shorter where the platform says so (Telegram: 1,024 against 4,096)."""
        return self.caption_length if image and index == 0 and self.caption_length else self.max_length


TELEGRAM = PlatformSpec(
    platform=Platform.TELEGRAM,
    label="Telegram",
    markup=Markup.TELEGRAM_HTML,
    # core.telegram.org/bots/api#sendmessage: "1-4096 characters after entities parsing";
    # #sendphoto: caption "0-1024 characters after entities parsing".
    max_length=4096,
    caption_length=1024,
    measure=telegram_length,
    max_parts=5,
    # core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this: about 30 messages per second
    # overall, and no more than 20 messages per minute in one group or channel; in one private chat, about one
    # message a second. core.telegram.org/bots/api#sendmessage, allow_paid_broadcast: up to 1000 messages a
    # second, for a fee (0.1 Star a message above the free 30).
    windows=((30, 1.0),),
    chat_windows=((20, 60.0),),
    private_chat_windows=((1, 1.0),),
    paid_windows=((1000, 1.0),),
)

VK = PlatformSpec(
    platform=Platform.VK,
    label="VK",
    markup=Markup.TEXT,
    # VK's wall accepts up to 16384 characters in a post's text (the wall editor's limit; wall.post
    # documents none). A longer text is refused, so a post is split into at most two wall posts.
    max_length=16384,
    measure=char_length,
    max_parts=2,
    # dev.vk.com/ru/api/api-requests#Ограничения: 3 requests per second per token.
    windows=((3, 1.0),),
)

X = PlatformSpec(
    platform=Platform.X,
    label="X",
    markup=Markup.TEXT,
    # developer.x.com counting-characters: 280 weighted characters; a longer post becomes a thread.
    max_length=280,
    measure=x_weighted_length,
    max_parts=12,
    number_parts=True,
    # docs.x.com, POST /2/tweets: 100 requests per 15 minutes per user, 10,000 per 24 hours per app.
    windows=((100, 900.0), (10_000, 86_400.0)),
    # docs.x.com rate limits, GET /2/tweets (a lookup of up to 100 ids): 5,000 per 15 minutes per user, 3,500 per app.
    read_windows=((3500, 900.0),),
    # A post containing a URL costs $0.20 instead of $0.015: one link per thread, at its end.
    link_placement=LinkPlacement.LAST,
)

DZEN = PlatformSpec(
    platform=Platform.DZEN,
    label="Dzen",
    markup=Markup.DZEN_HTML,
    # dzen.ru/help/ru/website/rss-modify: an article has no length limit that matters for our posts;
    # 100000 keeps a runaway template from producing a feed nobody can import.
    max_length=100_000,
    measure=lambda text: len(visible_text(text)),
)

MAX = PlatformSpec(
    platform=Platform.MAX,
    label="MAX",
    markup=Markup.MAX_HTML,
    # MAX Bot API schema (max-messenger/api-schema, NewMessageBody.text): "maxLength: 4000", the text as sent.
    # An image is an attachment of the same message, so its text has no shorter caption limit.
    max_length=4000,
    measure=markup_units,
    tags_count=True,
    max_parts=5,
    # dev.max.ru: about 30 requests a second per bot; no per-chat limit is published.
    windows=((30, 1.0),),
)

SPECS: dict[Platform, PlatformSpec] = {spec.platform: spec for spec in (TELEGRAM, VK, X, DZEN, MAX)}

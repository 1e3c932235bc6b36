"""Every post of an event as each platform will show it, from the real renderer; markup rebuilt from a whitelist."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from bot.adapters.dzen import lead, without_title
from bot.config import AppConfig
from bot.delivery import render_post, step_targets, targets_for
from bot.domain import Event, Platform, PostKind, RenderedPost, Step
from bot.errors import ConfigError, FitError
from bot.platforms import SPECS
from bot.platforms import Markup as PostMarkup
from bot.rendering.markup import (
    DZEN_TAGS,
    MAX_TAGS,
    TELEGRAM_TAGS,
    dzen_html_problems,
    max_html_problems,
    telegram_html_problems,
)
from bot.rendering.renderer import Renderer

# How each tag Telegram knows is drawn in the page (Telegram's own markup is not HTML a browser should trust).
TELEGRAM_TO_HTML: dict[str, str] = {
    "b": "b", "strong": "strong", "i": "i", "em": "em", "u": "u", "ins": "u", "s": "s", "strike": "s", "del": "s",
    "code": "code", "pre": "pre", "blockquote": "blockquote", "a": "a", "span": "span", "tg-spoiler": "span",
    "tg-emoji": "span", "tg-time": "span",
}
DZEN_TO_HTML: dict[str, str] = {tag: tag for tag in DZEN_TAGS}
# MAX's tags (its schema's "HTML support"); a header is drawn as a strong line of the message, as MAX shows it.
MAX_TO_HTML: dict[str, str] = {
    "b": "b", "strong": "strong", "i": "i", "em": "em", "u": "u", "ins": "u", "s": "s", "del": "s", "code": "code",
    "pre": "pre", "blockquote": "blockquote", "a": "a", "mark": "mark", "h1": "strong",
}
_LINK_SCHEMES = frozenset({"http", "https", "tg", "mailto"})
_VOID = frozenset({"img"})


def _safe_url(url: str | None, schemes: frozenset[str] = _LINK_SCHEMES) -> str | None:
    if not url:
        return None
    scheme = urlsplit(url.strip()).scheme.lower()
    return url.strip() if scheme in schemes else None


class _Rebuilder(HTMLParser):
    """Re-emits only whitelisted tags with checked attributes; all text (entities decoded) is escaped again."""

    def __init__(self, allowed: dict[str, frozenset[str]], to_html: dict[str, str]) -> None:
        super().__init__(convert_charrefs=True)
        self.allowed = allowed
        self.to_html = to_html
        self.out: list[str] = []
        self.stack: list[str | None] = []  # the tag emitted for each open element, None when dropped

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.allowed or tag not in self.to_html:
            if tag not in _VOID:
                self.stack.append(None)
            return
        given = dict(attrs)
        out = self.to_html[tag]
        extra = ""
        if tag == "a":
            href = _safe_url(given.get("href"))
            extra = f' href="{escape(href)}" rel="noopener noreferrer nofollow" target="_blank"' if href else ""
        elif tag in ("span", "tg-spoiler") and (tag == "tg-spoiler" or given.get("class") == "tg-spoiler"):
            extra = ' class="tg-spoiler"'
        elif tag == "blockquote" and "expandable" in given:
            extra = ' class="expandable"'
        elif tag == "img":
            src = _safe_url(given.get("src"), frozenset({"https", "http"}))
            if src is None:
                return
            extra = f' src="{escape(src)}" alt="{escape(given.get("alt") or "")}" loading="lazy"'
        self.out.append(f"<{out}{extra}>")
        if tag not in _VOID:
            self.stack.append(out)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or not self.stack:
            return
        emitted = self.stack.pop()
        if emitted is not None:
            self.out.append(f"</{emitted}>")

    def handle_data(self, data: str) -> None:
        self.out.append(str(escape(data)))

    def result(self) -> Markup:
        self.close()
        self.out.extend(f"</{tag}>" for tag in reversed(self.stack) if tag is not None)
        return Markup("".join(self.out))


def telegram_html(text: str) -> Markup:
    """Telegram HTML drawn as Telegram formats it: only its own tags survive, every text is escaped."""
    rebuilder = _Rebuilder(TELEGRAM_TAGS, TELEGRAM_TO_HTML)
    rebuilder.feed(text)
    return rebuilder.result()


def max_html(text: str) -> Markup:
    """MAX's HTML drawn as MAX formats it: tags it does not know are stripped (as MAX strips them)."""
    rebuilder = _Rebuilder(MAX_TAGS, MAX_TO_HTML)
    rebuilder.feed(text)
    return rebuilder.result()


def dzen_html(text: str) -> Markup:
    """Dzen article HTML, limited to the tags Dzen's RSS import accepts."""
    rebuilder = _Rebuilder(DZEN_TAGS, DZEN_TO_HTML)
    rebuilder.feed(text)
    return rebuilder.result()


_URL = re.compile(r"https?://[^\s<>\"']+")
_HASHTAG = re.compile(r"(?<![\w&#])#\w+")
_TRAILING = ".,;:!?)»”'\""


def plain_text(text: str) -> Markup:
    """Plain text (VK, X) escaped, with its links and hashtags drawn as the platforms draw them."""
    out: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        out.append(_hashtags(text[position:match.start()]))
        out.append(f'<a href="{escape(url)}" rel="noopener noreferrer nofollow" target="_blank">{escape(url)}</a>')
        position = match.start() + len(url)
    out.append(_hashtags(text[position:]))
    return Markup("".join(out))


def _hashtags(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _HASHTAG.finditer(text):
        out.append(str(escape(text[position:match.start()])))
        out.append(f'<span class="hashtag">{escape(match.group(0))}</span>')
        position = match.end()
    out.append(str(escape(text[position:])))
    return "".join(out)


@dataclass(frozen=True, kw_only=True)
class PartView:
    number: int
    html: Markup
    source: str  # exactly what is sent
    length: int
    limit: int
    limit_name: str  # "caption" or "message"

    @property
    def over(self) -> bool:
        return self.length > self.limit


@dataclass(frozen=True, kw_only=True)
class Preview:
    """One post for one target: its parts drawn as the platform shows them, or why it cannot be rendered."""

    target: str
    platform: Platform
    label: str
    lang: str
    account: str  # the channel, community, handle or feed the post appears under
    post: RenderedPost | None = None
    parts: tuple[PartView, ...] = ()
    error: str | None = None
    markup_problems: tuple[str, ...] = ()
    dzen_lead: str = ""

    @property
    def split(self) -> bool:
        return len(self.parts) > 1


@dataclass(frozen=True, kw_only=True)
class PreviewGroup:
    """The posts of one campaign step on every target, side by side."""

    step_id: str
    kind: PostKind
    due: datetime | None  # None for a notice sent on a change
    note: str
    previews: tuple[Preview, ...]


def _account(config: AppConfig, target: str) -> str:
    settings = config.settings.targets[target]
    if settings.platform is Platform.TELEGRAM:
        return str(settings.chat_id)
    if settings.platform is Platform.VK:
        return f"club{settings.group_id}"
    if settings.platform is Platform.X:
        return f"@{settings.username}" if settings.username else target
    if settings.platform is Platform.MAX:
        return target
    return str(settings.feed_title)


def preview(config: AppConfig, renderer: Renderer, event: Event, kind: PostKind, target: str,
            step: Step | None) -> Preview:
    """Render one post exactly as it will be sent (render_post) and draw it."""
    settings = config.settings.targets[target]
    spec = SPECS[settings.platform]
    base = Preview(target=target, platform=settings.platform, label=spec.label, lang=settings.lang,
                   account=_account(config, target))
    try:
        post = render_post(config, renderer, event, kind, target, step, measure=False)
    except (ConfigError, FitError) as exc:
        return replace(base, error=f"{type(exc).__name__}: {exc}")
    parts = []
    # The Dzen feed's article, as the adapter writes it: its title above, not again in the body.
    feed = settings.platform is Platform.DZEN and getattr(settings, "route", "rss") == "rss"
    for number, part in enumerate(post.parts, 1):
        limit = spec.part_limit(number - 1, image=bool(post.image))
        caption = limit != spec.max_length
        shown = without_title(part.text, post.title) if feed else part.text
        parts.append(PartView(number=number, html=_draw(spec.markup, shown), source=part.text,
                              length=part.length, limit=limit, limit_name="caption" if caption else "message"))
    problems: list[str] = []
    for part in post.parts:
        if spec.markup is PostMarkup.TELEGRAM_HTML:
            problems += telegram_html_problems(part.text)
        elif spec.markup is PostMarkup.DZEN_HTML:
            problems += dzen_html_problems(part.text)
        elif spec.markup is PostMarkup.MAX_HTML:
            problems += max_html_problems(part.text)
    return replace(
        base, post=post, parts=tuple(parts), markup_problems=tuple(dict.fromkeys(problems)),
        dzen_lead=(post.summary or lead(post.text)) if settings.platform is Platform.DZEN else "",
    )


def _draw(markup: PostMarkup, text: str) -> Markup:
    if markup is PostMarkup.TELEGRAM_HTML:
        return telegram_html(text)
    if markup is PostMarkup.DZEN_HTML:
        return dzen_html(text)
    if markup is PostMarkup.MAX_HTML:
        return max_html(text)
    return plain_text(text)


def event_previews(config: AppConfig, renderer: Renderer, event: Event) -> list[PreviewGroup]:
    """Every step of the campaign on each of its targets, then the change notice if the campaign sends one."""
    groups = []
    for step in config.campaign.steps:
        previews = tuple(preview(config, renderer, event, step.kind, target, step)
                         for target in step_targets(config, step))
        groups.append(PreviewGroup(step_id=step.id, kind=step.kind, due=step.due(event), note=step.at,
                                   previews=previews))
    planned = {step.kind for step in config.campaign.steps}
    if config.campaign.notify_changes and PostKind.CHANGED not in planned:
        previews = tuple(preview(config, renderer, event, PostKind.CHANGED, target, None)
                         for target in targets_for(config, PostKind.CHANGED))
        groups.append(PreviewGroup(step_id="changed", kind=PostKind.CHANGED, due=None,
                                   note="sent if the time changes or the event is postponed or cancelled",
                                   previews=previews))
    return groups

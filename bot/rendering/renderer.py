"""Renders an event's post for one target from the shared templates, then fits it to the platform."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplatesNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup as Safe

from bot.domain import Event, Part, Platform, PostKind, RenderedPost
from bot.errors import ConfigError, FitError
from bot.platforms import SPECS, LinkPlacement, Markup, PlatformSpec
from bot.rendering.context import countdown, view
from bot.rendering.fitting import fit
from bot.rendering.markup import dzen_html_problems, max_html_problems, telegram_html_problems, to_dzen_html
from bot.summaries import synopsis


@dataclass(frozen=True, kw_only=True)
class Destination:
    """Where a rendered post goes: a named target of a platform, read in one language.

    `link_placement` is the target's choice on a platform that bills links (X's `link_placement` setting);
    None takes the platform's default, and platforms whose templates place their own links ignore it.
    """

    target: str
    platform: Platform
    lang: str
    link_placement: LinkPlacement | None = None


def _capitalize_first(value: str) -> str:
    """The first letter a reader sees in capitals, past any tag it starts with (`until` in a <tg-time>)."""
    at = 0
    while value.startswith("<", at) and (end := value.find(">", at)) != -1:
        at = end + 1
    shown = value[:at] + value[at : at + 1].upper() + value[at + 1 :]
    return Safe(shown) if isinstance(value, Safe) else shown


def _html_filters() -> dict[str, Any]:
    return {
        "b": lambda value: Safe("<b>{}</b>").format(value),
        "i": lambda value: Safe("<i>{}</i>").format(value),
    }


def _html_link(url: str, text: str | None = None) -> Safe:
    return Safe('<a href="{}">{}</a>').format(url, text or url)


def _text_link(url: str, text: str | None = None) -> str:
    return f"{text}: {url}" if text and text != url else url


def _environment(templates_dir: Path, markup: Markup) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(templates_dir),
        undefined=StrictUndefined,
        # HTML outputs escape every value; plain text must not, or VK and X would publish '&amp;'.
        autoescape=markup.is_html,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates change by a reload of the configuration (a new Renderer), not behind the bot's back: no stat
        # of every template file on every render.
        auto_reload=False,
    )
    env.filters["capitalize_first"] = _capitalize_first
    if markup.is_html:
        env.filters.update(_html_filters())
        env.globals["link"] = _html_link
    else:
        env.filters.update({"b": str, "i": str})
        env.globals["link"] = _text_link
    return env


_BLANK_RUNS = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def _tidy(text: str) -> str:
    # Telegram shows every newline, so stray blank lines from template logic must go.
    return _BLANK_RUNS.sub("\n\n", _TRAILING_SPACE.sub("\n", text)).strip()


class Renderer:
    """Renders posts from `templates_dir`: `<platform>/<kind>.<lang>.j2` if present, else `<kind>.<lang>.j2`."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self._envs = {markup: _environment(templates_dir, markup) for markup in Markup}

    def all_template_names(self) -> list[str]:
        return sorted(self._envs[Markup.TEXT].list_templates(extensions=["j2"]))

    def compile(self, name: str) -> None:
        """Parse one template, so that a syntax error is found before its post is due."""
        try:
            self._envs[Markup.TEXT].get_template(name)
        except TemplateSyntaxError as exc:
            raise ConfigError(str(self.templates_dir / name), [f"line {exc.lineno}: {exc.message}"]) from None

    def template_names(self, kind: PostKind, platform: Platform, lang: str) -> list[str]:
        return [f"{platform.value}/{kind.value}.{lang}.j2", f"{kind.value}.{lang}.j2"]

    def render(
        self,
        event: Event,
        kind: PostKind,
        destination: Destination,
        *,
        before_start: timedelta | None = None,
        live_now: bool = False,
        now: datetime | None = None,
    ) -> RenderedPost:
        """Render and fit one post. Raises ConfigError for template faults, FitError when it cannot fit.

        `before_start`: how long before the event's start the post goes out (a reminder's "in an hour",
        "tomorrow"); pass `event.start - now` when it goes out later than planned, so that it says what is true.
        `now`: when it goes out, if known: past the accreditation deadline the post no longer invites accreditation.
        """
        spec = SPECS[destination.platform]
        env = self._envs[spec.markup]
        names = self.template_names(kind, destination.platform, destination.lang)
        event_view = view(event, destination.lang, now)
        view_title = event_view.title
        # `before_start` is the time left when the post goes out: the step's lead for a reminder on time, the
        # real `event.start - now` for one that goes out late.
        left = countdown(before_start, destination.lang, event.start) if before_start is not None else None
        context = {
            "event": event_view,
            "kind": kind.value,
            "platform": destination.platform.value,
            "lang": destination.lang,
            "countdown": left,
            "until": _ticking(left.phrase, event, spec) if left else "",
            # The link the post is about (the stream when live, else the event's page), or "".
            "post_link": _primary_link(event, kind, destination.platform) or "",
            # The broadcast is on (the announcement as edited at go-live): no promise of links to come.
            "live_now": live_now,
        }
        try:
            template = env.select_template(names)
            module = template.make_module(context)
            body = str(module)
            headline = str(getattr(module, "headline", "")) or view_title
            teaser = str(getattr(module, "teaser", "")) or None
        except (TemplatesNotFound, TemplateNotFound):
            problem = f"no template for {kind.value} in {destination.lang!r}: looked for {', '.join(names)}"
            raise ConfigError(str(self.templates_dir), [problem]) from None
        except TemplateSyntaxError as exc:
            raise ConfigError(str(exc.filename or exc.name), [f"line {exc.lineno}: {exc.message}"]) from None
        except UndefinedError as exc:
            raise ConfigError(self._path(names), [f"undefined variable: {exc.message}"]) from None
        except TemplateError as exc:
            raise ConfigError(self._path(names), [str(exc.message)]) from None
        text = _tidy(body)
        if spec.markup is Markup.DZEN_HTML:
            text = to_dzen_html(text)
        summary = synopsis(event, destination.lang, kind)
        return self._fitted(spec, event, kind, destination, text, headline).model_copy(
            update={"teaser": teaser, "summary": summary})

    @staticmethod
    def _placed_links(
        spec: PlatformSpec, event: Event, kind: PostKind, dest: Destination, text: str
    ) -> tuple[str, str]:
        """The text with the links at its end, and the suffix every part carries, as the placement says."""
        if spec.link_placement is None:
            return text, ""  # the templates wrote the links
        links = "\n".join(_links(event, kind, dest.platform))
        placement = dest.link_placement or spec.link_placement
        if not links or placement is LinkPlacement.NONE:
            return text, ""
        if placement is LinkPlacement.EVERY:
            return text, links
        # The last paragraph of the text is packed into the last part, whether the post is split or not.
        return f"{text}\n\n{links}", ""

    def _path(self, names: list[str]) -> str:
        for name in names:
            if (self.templates_dir / name).exists():
                return str(self.templates_dir / name)
        return str(self.templates_dir / names[-1])

    def _fitted(
        self, spec: PlatformSpec, event: Event, kind: PostKind, dest: Destination, text: str, headline: str
    ) -> RenderedPost:
        if not text:
            raise FitError(f"{spec.label}: the {kind.value} template rendered an empty post")
        problems = self.markup_problems(spec, text)
        if problems:
            # Every value is escaped, so this is a template writing tags the platform does not know.
            raise ConfigError(self._path(self.template_names(kind, dest.platform, dest.lang)), problems)
        # A post with a cover goes out as a photo, whose caption is shorter than a message.
        # Only the caption must be short: the rest follows as messages of the full length.
        text, suffix = self._placed_links(spec, event, kind, dest, text)
        parts = fit(text, spec, first_limit=spec.part_limit(0, image=bool(event.cover)), suffix=suffix)
        link = _primary_link(event, kind, dest.platform)
        return RenderedPost(
            event_id=event.id,
            kind=kind,
            target=dest.target,
            platform=dest.platform,
            lang=dest.lang,
            markup=spec.markup.value,
            parts=tuple(Part(text=part, length=spec.measure(part)) for part in parts),
            limit=spec.max_length,
            fitted=len(parts) > 1,
            title=headline,
            link=link,
            image=event.cover.url if event.cover else None,
        )

    @staticmethod
    def markup_problems(spec: PlatformSpec, text: str) -> list[str]:
        if spec.markup is Markup.TELEGRAM_HTML:
            return telegram_html_problems(text)
        if spec.markup is Markup.DZEN_HTML:
            return dzen_html_problems(text)
        if spec.markup is Markup.MAX_HTML:
            return max_html_problems(text)
        return []


def _ticking(phrase: str, event: Event, spec: PlatformSpec) -> str:
    """The time left as the platform can keep it true: on Telegram a date_time entity with relative format, which
    each reader's app counts from when they read it ("in 3 hours", then "in 2 hours"); `phrase` is what apps
    without it show. Elsewhere the phrase, true when the post goes out."""
    if spec.markup is not Markup.TELEGRAM_HTML:
        return phrase
    return Safe('<tg-time unix="{}" format="r">{}</tg-time>').format(int(event.start.timestamp()), phrase)


def _primary_link(event: Event, kind: PostKind, platform: Platform) -> str | None:
    """The link a post is about: the stream when live, the recording after the event (on the platform's own video
    service first), otherwise the event's page."""
    if kind is PostKind.LIVE:
        return event.live.get(platform.value) or event.live.get("website") or event.url
    if kind is PostKind.SUMMARY and event.recording:
        return event.recording.get(platform.value) or next(iter(event.recording.values()))
    return event.url or event.live.get("website")


def _links(event: Event, kind: PostKind, platform: Platform) -> tuple[str, ...]:
    """The links the renderer places (X): the primary one, and when live also the website's stream."""
    found = [_primary_link(event, kind, platform)]
    if kind is PostKind.LIVE:
        found.append(event.live.get("website"))
    return tuple(dict.fromkeys(link for link in found if link))


__all__ = ["Destination", "FitError", "Renderer"]

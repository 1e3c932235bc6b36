"""What every handler of the web app needs, built once by create_app and kept on the app (nothing global)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from bot.clock import Clock, utc_text
from bot.config import AppConfig, Settings
from bot.config.live import LiveConfig
from bot.domain import Platform
from bot.i18n import translations
from bot.operations import Operations
from bot.queries import Queries
from bot.rendering.context import zone_label
from bot.rendering.renderer import Renderer
from bot.scheduling import Dispatcher

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")



def _local(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {zone_label(local)}"


def _utc(moment: datetime | None) -> str:
    return utc_text(moment) if moment else ""


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment else ""


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(context.get("lang") or "en").gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(context.get("lang") or "en").ngettext(singular, plural, n)


def page_templates() -> Jinja2Templates:
    """The web UI's own templates: every value escaped, an undefined name an error; `{% trans %}` and `_()` in the
    language of the page's `lang` (bot/i18n.py's catalogs; English where a page has none)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update({"local": _local, "utc": _utc, "iso": _iso})
    return Jinja2Templates(env=env)


@dataclass(kw_only=True)
class Web:
    """The app's collaborators: the running configuration, the queries it reads with (off the event loop), the
    operations that change anything (publish, retry, skip...), the clock."""

    live: LiveConfig
    queries: Queries
    operations: Operations
    schedules: bool  # the dispatcher runs the campaign in this process: /healthz expects it running
    templates: Jinja2Templates
    clock: Clock

    @property
    def config(self) -> AppConfig:
        return self.live.current

    @property
    def settings(self) -> Settings:
        return self.config.settings

    @property
    def dispatcher(self) -> Dispatcher:
        return self.operations.dispatcher

    @property
    def renderer(self) -> Renderer:
        return self.operations.dispatcher.publisher.renderer

    @property
    def site_title(self) -> str:
        if self.settings.web.site_title:
            return self.settings.web.site_title
        for target in self.settings.targets_of(Platform.DZEN).values():
            return str(target.feed_title)
        return "Events"

    def site_name(self, lang: str) -> str:
        """The site's name as a reader of `lang` sees it (header, og:site_name, the calendar's name): the
        organisation's `title` in that language, else the cards' branding name in it, else the site title."""
        title = self.settings.organisation.title.get(lang)
        if title:
            return title
        branding = self.settings.branding.name
        if isinstance(branding, dict) and lang in branding:
            return branding[lang]
        return self.site_title


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web

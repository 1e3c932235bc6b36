"""Draws an event card: organisation, series, title, date with year and zone, venue and speakers, in the
organisation's colours, at the size a platform shows best; every text wrapped and shrunk to stay inside."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image, ImageChops, ImageColor, ImageDraw, UnidentifiedImageError

from bot.config.settings import BrandingSettings
from bot.domain import Event, EventStatus, Platform, pick
from bot.i18n import translations
from bot.images.fonts import Face
from bot.images.layout import Block, Setter, ellipsize, fit, wrap
from bot.rendering.context import view
from bot.summaries import when_with_year

log = logging.getLogger(__name__)

# Bumped whenever the drawing changes, so that cached cards are drawn again.
DESIGN_VERSION = "2"


class CardSize(StrEnum):
    """The sizes platforms show an image best at."""

    OG = "og"  # og:image and twitter:image: 1200x630 (Open Graph, Telegram/VK/X link previews)
    TELEGRAM = "telegram"  # a photo post: 16:9
    VK = "vk"  # a wall photo: 3:2 reads well in VK's feed on phones and desktop
    X = "x"  # X's recommended 16:9 at 1600x900
    DZEN = "dzen"  # a cover at least 700 px wide (webp is ignored: PNG)
    CLASSIC = "4x3"  # search engines' Event images: 16:9 (telegram's), 4:3 and 1:1, at least 1200 px wide
    SQUARE = "1x1"

    @property
    def pixels(self) -> tuple[int, int]:
        return _PIXELS[self]


_PIXELS: dict[CardSize, tuple[int, int]] = {
    CardSize.OG: (1200, 630),
    CardSize.TELEGRAM: (1280, 720),
    CardSize.VK: (1200, 800),
    CardSize.X: (1600, 900),
    CardSize.DZEN: (1280, 720),
    CardSize.CLASSIC: (1200, 900),
    CardSize.SQUARE: (1200, 1200),
}
# The images an event's structured data lists, one per aspect ratio Google's Event guidelines ask for.
EVENT_DATA_SIZES = (CardSize.TELEGRAM, CardSize.CLASSIC, CardSize.SQUARE)
PLATFORM_SIZES: dict[Platform, CardSize] = {
    Platform.TELEGRAM: CardSize.TELEGRAM,
    Platform.VK: CardSize.VK,
    Platform.X: CardSize.X,
    Platform.DZEN: CardSize.DZEN,
}

@dataclass(frozen=True, kw_only=True)
class CardContent:
    """Everything a card shows, in one language: what its cache key is made of."""

    lang: str
    organisation: str
    series: str
    title: str
    when: str
    venue: str
    speakers: tuple[str, ...]
    status: str  # '' when the event is scheduled, else 'Cancelled' / 'Postponed' in the language
    site: str  # the organiser's site, e.g. valdaiclub.com


@dataclass(frozen=True, kw_only=True)
class Style:
    """The organisation's look: colours, logo, typeface."""

    background: str
    accent: str
    text: str
    logo: Path | None = None

    @classmethod
    def of(cls, branding: BrandingSettings) -> Style:
        return cls(background=branding.background, accent=branding.accent, text=branding.text, logo=branding.logo)


def words(lang: str) -> dict[str, str]:
    """The card's own words in `lang` (bot/i18n.py's catalog)."""
    _ = translations(lang).gettext
    return {"speakers": _("Speakers"), "cancelled": _("Cancelled"), "postponed": _("Postponed"), "draft": _("Draft"),
            "moved": _("New date")}


def more(n: int, lang: str) -> str:
    """'+2 more', 'и ещё 2': the speakers a card has no room for."""
    return translations(lang).ngettext("+%(num)d more", "+%(num)d more", n) % {"num": n}


def content_of(event: Event, lang: str, organisation: str) -> CardContent:
    """The card's texts for `event` in `lang`; `organisation` is the branding's name (else the site's title)."""
    shown = view(event, lang)
    status = words(lang)["moved"] if event.moved else (
        "" if event.status is EventStatus.SCHEDULED else words(lang)[event.status.value])
    site = urlsplit(event.url or "").hostname or ""
    return CardContent(
        lang=lang,
        organisation=organisation,
        series=shown.series,
        title=shown.title,
        when=when_with_year(event, lang),
        venue=", ".join(part for part in (shown.venue, shown.address) if part),
        speakers=tuple(person.name for person in shown.speakers),
        status=status,
        site=site.removeprefix("www."),
    )


def organisation_name(branding: BrandingSettings, lang: str, fallback: str) -> str:
    name = branding.name
    if isinstance(name, dict):
        return pick(name, lang, "en") if name else fallback
    return name or fallback


@dataclass(frozen=True)
class Placed:
    """One block of text where the card draws it: its top-left corner and the width it was set in."""

    field: str
    block: Block
    x: float
    y: float
    width: float
    colour: str

    @property
    def box(self) -> tuple[float, float, float, float]:
        right = self.x + max((self.block.setter.length(line) for line in self.block.lines), default=0)
        return self.x, self.y, right, self.y + self.block.height


@dataclass(frozen=True)
class Layout:
    size: tuple[int, int]
    blocks: tuple[Placed, ...]
    logo_box: tuple[int, int, int, int] | None
    band: tuple[int, int, int, int]  # the accent band at the bottom


def _mix(colour: str, other: str, share: float) -> str:
    a, b = ImageColor.getrgb(colour), ImageColor.getrgb(other)
    return "#" + "".join(f"{round(x * share + y * (1 - share)):02x}" for x, y in zip(a[:3], b[:3], strict=True))


def _logo(style: Style, height: int) -> Image.Image | None:
    if style.logo is None:
        return None
    try:
        with Image.open(style.logo) as image:
            logo = image.convert("RGBA")
    except (OSError, UnidentifiedImageError) as exc:
        log.warning("cards: cannot read the logo %s (%s); cards are drawn without it", style.logo, exc)
        return None
    scale = height / logo.height
    return logo.resize((max(1, round(logo.width * scale)), height), Image.Resampling.LANCZOS)


def _speakers_block(content: CardContent, faces: tuple[Face, ...], width: float, size: int,
                    max_lines: int) -> Block | None:
    """'Speakers: A · B · C', as many names as fit in `max_lines`, then '+2 more'."""
    if not content.speakers:
        return None
    setter = Setter(faces, False, size)
    label = words(content.lang)["speakers"] + ": "
    names = [name.replace(" ", "\u00a0") for name in content.speakers]  # a name is never split across lines
    for shown in range(len(names), 0, -1):
        rest = len(names) - shown
        text = label + "\u00a0· ".join(names[:shown])
        if rest:
            text += " " + more(rest, content.lang)
        lines = wrap(text, setter, width)
        if len(lines) <= max_lines:
            return Block(setter, tuple(lines))
    return Block(setter, (ellipsize(label + names[0], setter, width),))


def layout(content: CardContent, size: CardSize, style: Style, faces: tuple[Face, ...]) -> Layout:
    """Where each text goes. Sizes shrink, then the least important lines go, until everything is inside."""
    width, height = size.pixels
    k = min(width / 1280, height / 720)
    margin = round(72 * k)
    inner = width - 2 * margin
    band_height = round(64 * k)
    band = (0, height - band_height, width, height)
    bottom = band[1] - round(28 * k)
    muted = _mix(style.text, style.background, 0.78)
    logo_height = round(60 * k) if style.logo else 0
    # Tried in order until the blocks fit above the band: smaller title, fewer lines, then fewer fields.
    attempts = [
        {"title": 66, "title_lines": 4, "speakers": 2, "venue": 2, "series": True},
        {"title": 56, "title_lines": 4, "speakers": 2, "venue": 2, "series": True},
        {"title": 48, "title_lines": 4, "speakers": 1, "venue": 2, "series": True},
        {"title": 44, "title_lines": 3, "speakers": 1, "venue": 1, "series": True},
        {"title": 40, "title_lines": 3, "speakers": 0, "venue": 1, "series": True},
        {"title": 36, "title_lines": 2, "speakers": 0, "venue": 1, "series": False},
        {"title": 32, "title_lines": 2, "speakers": 0, "venue": 0, "series": False},
    ]
    for attempt in attempts:
        placed: list[Placed] = []
        y = float(margin)
        header = max(logo_height, round(38 * k))
        org_x = margin + (logo_height * 3 if style.logo else 0)  # the logo's box; drawn at its own width
        badge_room = round(260 * k) if content.status else 0
        org = fit(content.organisation, faces, bold=True, width=inner - (org_x - margin) - badge_room, max_lines=1,
                  largest=round(30 * k), smallest=round(20 * k))
        placed.append(Placed("organisation", org, org_x, y + (header - org.height) / 2, inner, muted))
        if content.status:
            badge = fit(content.status.upper(), faces, bold=True, width=badge_room - round(32 * k), max_lines=1,
                        largest=round(26 * k), smallest=round(16 * k))
            badge_width = max(badge.setter.length(line) for line in badge.lines)
            placed.append(Placed("status", badge, width - margin - badge_width - round(16 * k),
                                 y + (header - badge.height) / 2, badge_width, "#ffffff"))
        y += header + round(34 * k)
        y += round(6 * k) + round(26 * k)
        if attempt["series"] and content.series:
            series = fit(content.series, faces, bold=True, width=inner, max_lines=1, largest=round(28 * k),
                         smallest=round(20 * k))
            placed.append(Placed("series", series, margin, y, inner, style.accent))
            y += series.height + round(8 * k)
        title = fit(content.title, faces, bold=True, width=inner, max_lines=int(attempt["title_lines"]),
                    largest=round(int(attempt["title"]) * k), smallest=round(30 * k))
        placed.append(Placed("title", title, margin, y, inner, style.text))
        y += title.height + round(26 * k)
        when = fit(content.when, faces, bold=False, width=inner, max_lines=2, largest=round(32 * k),
                   smallest=round(22 * k))
        placed.append(Placed("when", when, margin, y, inner, style.text))
        y += when.height + round(6 * k)
        if attempt["venue"] and content.venue:
            venue = fit(content.venue, faces, bold=False, width=inner, max_lines=int(attempt["venue"]),
                        largest=round(28 * k), smallest=round(20 * k))
            placed.append(Placed("venue", venue, margin, y, inner, muted))
            y += venue.height + round(18 * k)
        if attempt["speakers"]:
            speakers = _speakers_block(content, faces, inner, round(26 * k), int(attempt["speakers"]))
            if speakers is not None:
                placed.append(Placed("speakers", speakers, margin, y, inner, muted))
                y += speakers.height
        if y <= bottom:
            break
    # What is left over goes half above and half below the texts under the header, so that they sit in the middle.
    spare = max(0.0, (bottom - y) / 2)
    placed = [replace(p, y=p.y + spare) if p.field not in ("organisation", "status") else p for p in placed]
    if content.site:
        site = fit(content.site, faces, bold=True, width=inner, max_lines=1, largest=round(24 * k),
                   smallest=round(16 * k))
        placed.append(Placed("site", site, margin, band[1] + (band_height - site.height) / 2, inner,
                             style.background))
    logo_box = (margin, margin, margin + logo_height * 3, margin + logo_height) if style.logo else None
    return Layout(size=(width, height), blocks=tuple(placed), logo_box=logo_box, band=band)


def draw_card(content: CardContent, size: CardSize, style: Style, faces: tuple[Face, ...]) -> Image.Image:
    """The card as an RGB image of `size`."""
    plan = layout(content, size, style, faces)
    width, height = plan.size
    k = min(width / 1280, height / 720)
    # A diagonal shade of the background colour: lighter top left, darker bottom right.
    dark = _mix(style.background, "#000000", 0.72)
    down = Image.linear_gradient("L").resize((width, height))
    shade = ImageChops.add(down, down.transpose(Image.Transpose.ROTATE_90).resize((width, height)), scale=2)
    image = Image.composite(Image.new("RGB", (width, height), dark), Image.new("RGB", (width, height),
                                                                              style.background), shade)
    canvas = ImageDraw.Draw(image)
    canvas.rectangle(plan.band, fill=style.accent)
    margin = round(72 * k)
    title = next(p for p in plan.blocks if p.field == "title")
    top = next((p for p in plan.blocks if p.field == "series"), title)
    canvas.rectangle((margin, top.y - round(32 * k), margin + round(72 * k), top.y - round(26 * k)),
                     fill=style.accent)
    if plan.logo_box is not None:
        logo = _logo(style, plan.logo_box[3] - plan.logo_box[1])
        if logo is not None:
            logo = logo.crop((0, 0, min(logo.width, plan.logo_box[2] - plan.logo_box[0]), logo.height))
            image.paste(logo, (plan.logo_box[0], plan.logo_box[1]), logo)
    for placed in plan.blocks:
        if placed.field == "status":
            x0, y0, x1, y1 = placed.box
            pad = round(14 * k)
            canvas.rounded_rectangle((x0 - pad, y0 - pad / 2, x1 + pad, y1 + pad / 2), radius=round(8 * k),
                                     fill="#c62828")
        setter = placed.block.setter
        ascent = setter.size * 0.95
        for number, line in enumerate(placed.block.lines):
            baseline = placed.y + number * setter.line_height + ascent
            setter.draw(canvas, placed.x, baseline, line, placed.colour)
    return image

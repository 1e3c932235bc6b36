"""Charts drawn on the server as SVG (no script, no outside service, nothing the page's CSP must allow): views over
time per platform, and a bar per platform."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

# A colour per platform, kept apart for readers of either kind of colour blindness (with the name beside each line).
COLOURS = {"telegram": "#1d8fd1", "max": "#6a3fd6", "vk": "#2a5caa", "x": "#222222", "dzen": "#d9822b"}
NAMES = {"telegram": "Telegram", "max": "MAX", "vk": "VK", "x": "X", "dzen": "Dzen"}
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40


def _number(value: float) -> str:
    return f"{value:,.0f}"


def _nice(largest: int) -> int:
    """The top of the axis: 1, 2 or 5 times a power of ten, at least `largest`."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= largest:
                return step * factor
        step *= 10


def lines(series: Mapping[str, Sequence[tuple[datetime, int]]], zone: str, title: str) -> Markup:
    """Views over time: one line per platform, the time in the event's zone, the latest figure at each line's end."""
    points = [moment for values in series.values() for moment, _ in values]
    head = (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-lines-title" '
            f'xmlns="http://www.w3.org/2000/svg"><title id="chart-lines-title">{escape(title)}</title>')
    if not points:
        return Markup(head + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="chart-empty">'
                             "nothing read yet</text></svg>")
    first, last = min(points), max(points)
    span = (last - first).total_seconds() or 1.0
    top = _nice(max((value for values in series.values() for _, value in values), default=1) or 1)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(moment: datetime) -> float:
        return LEFT + (inner_w * (moment - first).total_seconds() / span if last > first else inner_w / 2)

    def y(value: float) -> float:
        return TOP + inner_h * (1 - value / top)

    parts = [head]
    for tick in range(5):  # the value axis, in fifths
        value = top * tick / 4
        parts.append(f'<line x1="{LEFT}" y1="{y(value):.1f}" x2="{WIDTH - RIGHT}" y2="{y(value):.1f}" '
                     f'class="chart-grid"/><text x="{LEFT - 8}" y="{y(value) + 4:.1f}" text-anchor="end" '
                     f'class="chart-label">{_number(value)}</text>')
    local = ZoneInfo(zone)
    for moment, anchor in ((first, "start"), (last, "end")) if last > first else ((first, "middle"),):
        parts.append(f'<text x="{x(moment):.1f}" y="{HEIGHT - 12}" text-anchor="{anchor}" class="chart-label">'
                     f'{escape(moment.astimezone(local).strftime("%d %b %H:%M"))}</text>')
    for platform, values in series.items():
        if not values:
            continue
        colour = COLOURS.get(platform, "#555555")
        path = " ".join(f"{x(moment):.1f},{y(value):.1f}" for moment, value in values)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="3" '
                     'stroke-linejoin="round"/>')
        for moment, value in values:
            parts.append(f'<circle cx="{x(moment):.1f}" cy="{y(value):.1f}" r="4" fill="{colour}"/>')
        end_x, end_y = x(values[-1][0]), y(values[-1][1])
        label = f"{NAMES.get(platform, platform)} {_number(values[-1][1])}"
        anchor = "end" if end_x > WIDTH - 160 else "start"
        offset = -8 if anchor == "end" else 8
        parts.append(f'<text x="{end_x + offset:.1f}" y="{end_y - 10:.1f}" text-anchor="{anchor}" '
                     f'class="chart-value" fill="{colour}">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(values: Sequence[tuple[str, int | None]], title: str, missing: str = "not available") -> Markup:
    """A bar per platform (its name, its figure at the bar's end); a platform without the figure says so."""
    row = 44
    height = TOP + row * max(1, len(values)) + 8
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="chart-bars-title" '
             f'xmlns="http://www.w3.org/2000/svg"><title id="chart-bars-title">{escape(title)}</title>']
    top = max((value or 0 for _, value in values), default=0) or 1
    label_w, room = 110, WIDTH - 110 - 120
    for index, (platform, value) in enumerate(values):
        y = TOP + index * row
        parts.append(f'<text x="0" y="{y + 24}" class="chart-name">{escape(NAMES.get(platform, platform))}</text>')
        if value is None:
            parts.append(f'<text x="{label_w}" y="{y + 24}" class="chart-empty">{escape(missing)}</text>')
            continue
        length = max(3.0, room * value / top)
        parts.append(f'<rect x="{label_w}" y="{y + 6}" width="{length:.1f}" height="26" rx="4" '
                     f'fill="{COLOURS.get(platform, "#555555")}"/>')
        parts.append(f'<text x="{label_w + length + 8:.1f}" y="{y + 24}" class="chart-value">{_number(value)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))

"""The reach report of one event: per platform and per post, views or impressions where the platform gives them,
engagement, clicks through the bot's links, subscribers reminded and page views, and plainly "not available on this
platform" where it does not. One set of figures for the dashboard, the terminal, JSON, CSV and the printable page."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.config import AppConfig
from bot.domain import Platform, StoredEvent, pick
from bot.reach import NOT_AVAILABLE, READABLE, RefreshResult
from bot.storage.reach import REACTIONS, ReachReading, ReachStore, SentPost
from bot.storage.reminders import ReminderQueue

# What each platform calls the number of times its posts were seen (the report's "views").
VIEWS: dict[Platform, str] = {Platform.VK: "views", Platform.X: "impressions"}
ENGAGEMENT = ("likes", "reposts", "comments", "replies", "quotes", "reactions")  # what people did with a post
NOT_AVAILABLE_WORDS = "not available on this platform"
PLATFORM_ORDER = (Platform.TELEGRAM, Platform.MAX, Platform.VK, Platform.X, Platform.DZEN)


@dataclass(frozen=True, kw_only=True)
class PostReach:
    """One published post and what it reached, as last read."""

    id: int
    target: str
    platform: Platform
    kind: str
    step: str
    lang: str
    link: str | None
    sent_at: datetime
    read_at: datetime | None
    views: int | None  # views (VK), impressions (X); None: not given by the platform, or not read (see `note`)
    engagement: Mapping[str, int] = field(default_factory=dict)  # likes, reposts, comments, replies, quotes, reactions
    clicks: int = 0
    note: str | None = None  # why a figure is missing

    @property
    def engaged(self) -> int | None:
        return sum(self.engagement.values()) if self.engagement else None


@dataclass(frozen=True, kw_only=True)
class PlatformReach:
    """One platform's totals over its targets."""

    platform: Platform
    targets: tuple[str, ...]
    posts: int
    views: int | None
    engagement: int | None
    clicks: int
    note: str | None = None  # "not available on this platform: …" for what it does not give


@dataclass(frozen=True, kw_only=True)
class EventReport:
    """What an event's posts reached, everywhere, as of `generated_at`."""

    event_id: str
    title: str
    lang: str
    start: datetime
    timezone: str
    generated_at: datetime
    platforms: tuple[PlatformReach, ...]
    posts: tuple[PostReach, ...]
    reminded: int  # personal reminders delivered by the chat bot
    page_views: int  # the public event page (people, not crawlers)
    calendar: int  # calendar files downloaded (the page, the chat bot)
    clicks: int  # through the bot's /go/ links, all targets
    series: Mapping[Platform, tuple[tuple[datetime, int], ...]] = field(default_factory=dict)  # views over time
    cost: Decimal = Decimal(0)  # US dollars billed for reading this event's posts (X)
    refresh: RefreshResult | None = None

    @property
    def views(self) -> int:
        return sum(p.views or 0 for p in self.platforms)

    def as_json(self) -> dict[str, Any]:
        """One JSON document: per-platform totals, per-post rows, the bot's own counts (stable field names)."""
        data: dict[str, Any] = {
            "event": self.event_id, "title": self.title, "lang": self.lang, "start": self.start.isoformat(),
            "generated_at": self.generated_at.isoformat(), "cost_usd": str(self.cost),
            "totals": {"views": self.views, "clicks": self.clicks, "subscribers_reminded": self.reminded,
                       "page_views": self.page_views, "calendar_downloads": self.calendar},
            "platforms": [{"platform": p.platform.value, "targets": list(p.targets), "posts": p.posts,
                           "views": p.views, "views_are": VIEWS.get(p.platform), "engagement": p.engagement,
                           "clicks": p.clicks, "note": p.note} for p in self.platforms],
            "posts": [{"id": p.id, "target": p.target, "platform": p.platform.value, "kind": p.kind, "step": p.step,
                       "lang": p.lang, "link": p.link, "sent_at": p.sent_at.isoformat(),
                       "read_at": p.read_at.isoformat() if p.read_at else None, "views": p.views,
                       **{name: p.engagement.get(name) for name in ENGAGEMENT}, "engagement": p.engaged,
                       "clicks": p.clicks, "note": p.note} for p in self.posts],
            "series": {platform.value: [[moment.isoformat(), value] for moment, value in points]
                       for platform, points in self.series.items()},
            "refresh": None,
        }
        if self.refresh is not None:
            data["refresh"] = {
                "read": self.refresh.read, "cost_usd": str(self.refresh.cost), "problems": list(self.refresh.problems),
                "estimates": [{"target": e.target, "platform": e.platform.value, "posts": e.posts,
                               "allowed": e.allowed, "cost_usd": str(e.cost), "note": e.note}
                              for e in self.refresh.estimates]}
        return data

    def csv(self) -> str:
        """One row per post (a spreadsheet's), then one per platform; empty cells where a figure is not given."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["row", "target", "platform", "kind", "step", "sent_at", "read_at", "views", *ENGAGEMENT,
                         "engagement", "clicks", "note"])
        for p in self.posts:
            writer.writerow(["post", p.target, p.platform.value, p.kind, p.step, p.sent_at.isoformat(),
                             p.read_at.isoformat() if p.read_at else "", _cell(p.views),
                             *(_cell(p.engagement.get(name)) for name in ENGAGEMENT), _cell(p.engaged), p.clicks,
                             p.note or ""])
        for t in self.platforms:
            writer.writerow(["platform", " ".join(t.targets), t.platform.value, "", "", "", "", _cell(t.views),
                             *([""] * len(ENGAGEMENT)), _cell(t.engagement), t.clicks, t.note or ""])
        writer.writerow(["own", "", "", "", "", "", "", "", *([""] * len(ENGAGEMENT)), "", self.clicks,
                         f"subscribers reminded {self.reminded}; page views {self.page_views}; "
                         f"calendar downloads {self.calendar}"])
        return out.getvalue()


def _cell(value: int | None) -> str:
    return "" if value is None else str(value)


def _latest(readings: Iterable[ReachReading]) -> ReachReading | None:
    done = [r for r in readings if r.state == "done" and r.read_at is not None]
    return max(done, key=lambda r: (r.read_at, r.id)) if done else None


def build(config: AppConfig, store: ReachStore, reminders: ReminderQueue, stored: StoredEvent, now: datetime, *,
          refresh: RefreshResult | None = None) -> EventReport:
    """The report of `stored` from what is on record now (readings, counters, reminders)."""
    event = stored.event
    posts = store.sent_posts(event_id=event.id)
    readings = store.readings(event.id)
    by_post: dict[int, list[ReachReading]] = defaultdict(list)
    for reading in readings:
        by_post[reading.planned_post_id].append(reading)
    counts = store.counts(event.id)
    clicks: dict[tuple[str, str], int] = defaultdict(int)
    for name, key, _, count in counts:
        if name == "click":
            target, step, _url = [*key.split(" ", 2), "", ""][:3]
            clicks[(target, step)] += count
    rows = tuple(_post_reach(config, post, by_post.get(post.id, []), clicks.get((post.target, post.step_id), 0))
                 for post in posts)
    platforms = _platforms(config, rows, clicks)
    return EventReport(
        event_id=event.id, title=pick(event.title, event.lang, event.lang), lang=event.lang, start=event.start,
        timezone=event.timezone, generated_at=now, platforms=platforms, posts=rows,
        reminded=sum(p.sent for p in reminders.progress(event.id)),
        page_views=sum(count for name, _, _, count in counts if name == "page_view"),
        calendar=sum(count for name, _, _, count in counts if name == "calendar"),
        clicks=sum(clicks.values()), series=_series(posts, readings),
        cost=sum((r.cost for r in readings if r.cost), Decimal(0)), refresh=refresh)


def _post_reach(config: AppConfig, post: SentPost, readings: list[ReachReading], clicks: int) -> PostReach:
    """One post's figures: the latest reading of the platform's own, and the latest reactions Telegram sent."""
    platform = post.platform
    read = _latest(r for r in readings if not r.slot.startswith(REACTIONS))
    reacted = _latest(r for r in readings if r.slot.startswith(REACTIONS))
    metrics = dict(read.metrics) if read else {}
    if reacted is not None:
        metrics["reactions"] = reacted.metrics.get("reactions", 0)
    views = metrics.get(VIEWS[platform]) if platform in VIEWS else None
    engagement = {name: metrics[name] for name in ENGAGEMENT if name in metrics}
    target: Any = config.settings.targets.get(post.target)
    note = None
    if target is None or not target.has_credentials or (post.link or "").startswith("file:"):
        note = "published to the local outbox: nothing to read"
    elif platform in NOT_AVAILABLE:
        note = f"views {NOT_AVAILABLE_WORDS}: {NOT_AVAILABLE[platform]}"
        if platform is Platform.DZEN:
            note = f"{NOT_AVAILABLE_WORDS}: {NOT_AVAILABLE[platform]}"
    elif read is None:
        failed = [r for r in readings if r.state in ("failed", "retrying") and r.error]
        note = f"not read: {failed[-1].error}" if failed else "not read yet (first read 1 h after it went out)"
    return PostReach(id=post.id, target=post.target, platform=platform, kind=post.kind.value, step=post.step_id,
                     lang=post.lang, link=post.link, sent_at=post.sent_at,
                     read_at=read.read_at if read else (reacted.read_at if reacted else None), views=views,
                     engagement=engagement, clicks=clicks, note=note)


def _platforms(config: AppConfig, rows: tuple[PostReach, ...], clicks: Mapping[tuple[str, str], int]
               ) -> tuple[PlatformReach, ...]:
    """Totals per platform: every platform with a target, in the usual order, even one with no post yet."""
    used = {target.platform for target in config.settings.targets.values() if target.enabled}
    used |= {row.platform for row in rows}
    found = []
    for platform in (p for p in PLATFORM_ORDER if p in used):
        mine = [row for row in rows if row.platform is platform]
        targets = tuple(sorted({row.target for row in mine} or {name for name, t in config.settings.targets.items()
                                                                if t.platform is platform and t.enabled}))
        views = [row.views for row in mine if row.views is not None]
        engaged = [row.engaged for row in mine if row.engaged is not None]
        note = None
        if platform is Platform.DZEN:
            note = f"{NOT_AVAILABLE_WORDS}: {NOT_AVAILABLE[platform]}"
        elif platform not in READABLE:
            note = f"views {NOT_AVAILABLE_WORDS}: {NOT_AVAILABLE[platform]}"
        elif not any(getattr(config.settings.targets.get(name), "has_credentials", False) for name in targets):
            note = "no credentials: its posts go to the local outbox, nothing to read"
        elif mine and not views:
            note = "not read yet" if all(row.note is None or "yet" in row.note for row in mine) else mine[0].note
        found.append(PlatformReach(
            platform=platform, targets=targets, posts=len(mine), views=sum(views) if views else None,
            engagement=sum(e for e in engaged if e is not None) if engaged else None,
            clicks=sum(n for (target, _), n in clicks.items() if target in targets), note=note))
    return tuple(found)


def _series(posts: list[SentPost], readings: list[ReachReading]) -> dict[Platform, tuple[tuple[datetime, int], ...]]:
    """Views over time per platform: at each reading, the sum over its posts of each one's latest views so far."""
    platform_of = {post.id: post.platform for post in posts}
    found: dict[Platform, tuple[tuple[datetime, int], ...]] = {}
    for platform, name in VIEWS.items():
        mine = sorted((r for r in readings if platform_of.get(r.planned_post_id) is platform and r.state == "done"
                       and r.read_at is not None and name in r.metrics), key=lambda r: (r.read_at, r.id))
        latest: dict[int, int] = {}
        points: list[tuple[datetime, int]] = []
        for reading in mine:
            assert reading.read_at is not None
            latest[reading.planned_post_id] = reading.metrics[name]
            total = sum(latest.values())
            if points and points[-1][0] == reading.read_at:
                points[-1] = (reading.read_at, total)
            else:
                points.append((reading.read_at, total))
        if points:
            found[platform] = tuple(points)
    return found

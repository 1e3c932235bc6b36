"""Renders posts and holds the adapters that publish them: the one place that turns a planned post into requests."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.abc import Adapter
from bot.adapters import build_adapter
from bot.config import AppConfig, Settings
from bot.config.live import LiveConfig
from bot.domain import (
    Event,
    PlannedPost,
    Platform,
    PostKind,
    PostState,
    Receipt,
    RenderedPost,
    Step,
    StoredEvent,
    content_hash,
)
from bot.errors import AnnounceBotError
from bot.images import CardStore
from bot.links import absolute, public_base, with_go_links
from bot.planning import before_start
from bot.ratelimit import RateLimits, TokenLimits
from bot.rendering.pricing import PostPrice, price
from bot.rendering.renderer import Destination, Renderer

log = logging.getLogger(__name__)

AdapterFactory = Callable[[str, Settings], Adapter]
RENDER_CACHE = 4096  # rendered posts kept (a few kB each)
# Bumped when the bot renders the same inputs differently (a template filter, the fitting): every rendering
# stored with a plan is made again.
RENDERING = "1"
_fingerprints: dict[int, tuple[AppConfig, str]] = {}


def fingerprint(config: AppConfig) -> str:
    """The version of everything besides the event that a rendering depends on: the templates, the campaign, the
    targets, branding and organisation, the public address, and how this bot renders (RENDERING). Made once per
    configuration read."""
    held = _fingerprints.get(id(config))
    if held is not None and held[0] is config:
        return held[1]
    digest = hashlib.sha256(RENDERING.encode())
    if config.templates_dir.is_dir():
        for path in sorted(p for p in config.templates_dir.rglob("*.j2") if p.is_file()):
            digest.update(str(path.relative_to(config.templates_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    settings = config.settings
    parts: dict[str, Any] = {
        "campaign": config.campaign.model_dump(mode="json"),
        "targets": {name: target.model_dump(mode="json") for name, target in settings.targets.items()},
        "branding": settings.branding.model_dump(mode="json"),
        "organisation": settings.organisation.model_dump(mode="json"),
        "public_url": settings.web.public_url,
    }
    digest.update(json.dumps(parts, sort_keys=True, default=str).encode())
    value = digest.hexdigest()
    if len(_fingerprints) > 16:
        _fingerprints.clear()
    _fingerprints[id(config)] = (config, value)
    return value


def inputs(stored: StoredEvent | Event, config: AppConfig, now: datetime) -> str:
    """What a rendering is made from: the event's version, the configuration's fingerprint, and what of the moment
    a post says (whether accreditation is still open): a stored rendering is sent only while these are the same."""
    event = stored if isinstance(stored, Event) else stored.event
    version = content_hash(stored) if isinstance(stored, Event) else stored.version
    moment = "" if event.accreditation_open(now) else ":closed"
    return f"{version[:40]}:{fingerprint(config)[:40]}{moment}"


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What happened to one post on one target: the rendered post, the receipt or the error, the state it is in."""

    target: str
    platform: Platform
    kind: PostKind
    planned: PlannedPost | None = None
    post: RenderedPost | None = None
    receipt: Receipt | None = None
    error: AnnounceBotError | None = None
    state: PostState | None = None  # the planned post's state once this attempt was recorded
    note: str | None = None  # why it was not sent, or when it will be tried again

    @property
    def ok(self) -> bool:
        return self.error is None and self.state in (None, PostState.SENT)


def step_targets(config: AppConfig, step: Step) -> list[str]:
    """The enabled targets on the platforms a campaign step posts to."""
    platforms = config.campaign.platforms_of(step)
    return [n for n, t in config.settings.targets.items() if t.enabled and t.platform in platforms]


def targets_for(config: AppConfig, kind: PostKind, platforms: Iterable[Platform] | None = None) -> list[str]:
    """The targets the campaign sends `kind` to (all of its platforms for an unplanned kind), within `platforms`."""
    campaign = config.campaign
    steps = [step for step in campaign.steps if step.kind is kind]
    used = {p for step in steps for p in campaign.platforms_of(step)} if steps else set(campaign.platforms)
    if platforms is not None:
        used &= set(platforms)
    return [n for n, t in config.settings.targets.items() if t.enabled and t.platform in used]


def post_price(config: AppConfig, post: RenderedPost) -> PostPrice | None:
    """What publishing `post` costs on its target (X bills per post; the others nothing)."""
    settings = config.settings.targets[post.target]
    prices = getattr(settings, "prices", None)
    return price(post, prices) if prices is not None else price(post)


def reads_alike(config: AppConfig, target: str) -> tuple[Any, ...]:
    """What makes a target's posts read differently from another's: targets alike in these share one rendering.
    A target counting clicks has links of its own (/go/<event>/<target>/…)."""
    settings: Any = config.settings.targets[target]
    return (settings.platform, settings.lang, getattr(settings, "link_placement", None),
            target if getattr(settings, "track_clicks", False) else None)


def step_of(config: AppConfig, step_id: str) -> Step | None:
    return next((step for step in config.campaign.steps if step.id == step_id), None)


class Publisher:
    """Renders posts for targets and hands out each target's adapter and rate limits, always for the current
    configuration: a reload that changes a target's settings gets it a new adapter, new templates a new renderer."""

    def __init__(self, live: LiveConfig, adapters: AdapterFactory = build_adapter, *,
                 limits: RateLimits | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.live = live
        self.clock = clock or (lambda: datetime.now(UTC))  # what a post says can depend on when it goes out
        self._factory = adapters
        self._adapters: dict[str, tuple[Any, Adapter]] = {}  # target -> (what it was built from, adapter)
        self._retired: list[Adapter] = []
        self._renderer: tuple[int, Renderer] | None = None
        self._limits: dict[str, tuple[Any, TokenLimits]] = {}
        self._rendered: dict[tuple[Any, ...], RenderedPost] = {}
        self._rendering = threading.Lock()
        self.limits = limits or RateLimits(enabled=live.current.settings.delivery.rate_limit)

    @property
    def config(self) -> AppConfig:
        return self.live.current

    @property
    def renderer(self) -> Renderer:
        config = self.config
        if self._renderer is None or self._renderer[1].templates_dir != config.templates_dir or \
                self._renderer[0] != self.live.version:
            self._renderer = (self.live.version, Renderer(config.templates_dir))
        return self._renderer[1]

    def adapter(self, target: str) -> Adapter:
        settings = self.config.settings.targets[target]
        held = self._adapters.get(target)
        if held is not None and held[0][0] is settings:  # built for this configuration
            return held[1]
        # A reload: a new adapter if the target's settings, its secrets (a token file read again) or the outbox changed.
        built_from = (settings, settings.secrets(), self.config.settings.outbox.dir)
        if held is not None and held[0] == built_from:
            self._adapters[target] = (built_from, held[1])
            return held[1]
        if held is not None:
            self._retired.append(held[1])  # closed at aclose(): a send may still be using it
        adapter = self._factory(target, self.config.settings)
        self._adapters[target] = (built_from, adapter)
        return adapter

    def limits_for(self, target: str) -> TokenLimits:
        """The rate limits of the token `target` posts with (shared with every other target of that token)."""
        settings: Any = self.config.settings.targets[target]
        held = self._limits.get(target)
        if held is not None and held[0] is settings:  # the secrets are read (maybe from a file) once per config
            return held[1]
        secrets = settings.secrets()
        token = secrets.get("token") or secrets.get("access_token") or f"outbox:{target}"
        limits = self.limits.for_token(settings.platform, token)
        self._limits[target] = (settings, limits)
        return limits

    def read_limits_for(self, target: str) -> TokenLimits:
        """The rate limits reading `target`'s posts back goes through (see RateLimits.for_reads)."""
        settings: Any = self.config.settings.targets[target]
        secrets = settings.secrets()
        # VK reads with the app's service key when one is set: its own limits, not the posting token's.
        token = secrets.get("service_token") or secrets.get("token") or secrets.get("access_token") or \
            f"outbox:{target}"
        return self.limits.for_reads(settings.platform, token)

    def _render_key(self, stored: StoredEvent, kind: PostKind, target: str, step: Step | None,
                    left: timedelta | None) -> tuple[Any, ...]:
        return (self.live.version, stored.version, kind, step.id if step else None, *reads_alike(self.config, target),
                left, stored.event.accreditation_open(self.clock()))

    def render_cached(self, stored: StoredEvent, kind: PostKind, target: str, step: Step | None = None,
                      left: timedelta | None = None) -> RenderedPost:
        """`render`, done once per event version, kind, step and destination (the language, platform and link
        placement: targets that read alike share one rendering) rather than once per target and attempt."""
        key = self._render_key(stored, kind, target, step, left)
        post = self._rendered.get(key)
        if post is None:
            post = self.render(stored.event, kind, target, step, left, now=self.clock())
            with self._rendering:  # worker threads render too (render_off_loop)
                while len(self._rendered) >= RENDER_CACHE:
                    self._rendered.pop(next(iter(self._rendered)))  # the oldest first: a plain bounded cache
                self._rendered[key] = post
        return post if post.target == target else post.model_copy(update={"target": target})

    def as_planned(self, post: PlannedPost, stored: StoredEvent) -> RenderedPost | None:
        """The post's rendering stored with its plan, if it was made from the event as it is now, the configuration
        in use and what the moment changes (`inputs`); None: render it."""
        if post.rendering is None or post.rendered_for != inputs(stored, self.config, self.clock()):
            return None
        return post.rendering.post()

    async def render_off_loop(self, stored: StoredEvent, kind: PostKind, target: str, step: Step | None = None,
                              left: timedelta | None = None) -> RenderedPost:
        """`render_cached`, with a rendering not cached yet made in a worker thread: one takes ~1.5 ms of CPU,
        which the event loop (other targets' sends, the chat bot's answers) should not wait on."""
        if self._render_key(stored, kind, target, step, left) in self._rendered:
            return self.render_cached(stored, kind, target, step, left)
        return await asyncio.to_thread(self.render_cached, stored, kind, target, step, left)

    async def aclose(self) -> None:
        adapters = [adapter for _, adapter in self._adapters.values()] + self._retired
        self._adapters, self._retired = {}, []
        for adapter in adapters:
            await adapter.aclose()

    def render(self, event: Event, kind: PostKind, target: str, step: Step | None = None,
               left: timedelta | None = None, *, live_now: bool = False, now: datetime | None = None) -> RenderedPost:
        return render_post(self.config, self.renderer, event, kind, target, step, left, live_now=live_now,
                           now=now or self.clock())


def render_post(config: AppConfig, renderer: Renderer, event: Event, kind: PostKind, target: str,
                step: Step | None = None, left: timedelta | None = None, *, live_now: bool = False,
                now: datetime | None = None, measure: bool = True) -> RenderedPost:
    """Render `kind` for `target`. A reminder says how long before the start it goes out: `left` when given
    (the real time left, for a late one), else what its campaign step says. `live_now`: the announcement as
    edited once the broadcast is on (it no longer promises links to come). `now`: when it goes out (past the
    accreditation deadline, it no longer invites accreditation); None renders it as of no particular time.
    `measure`: a Dzen post learns its image's size in bytes (its feed's enclosure says it), drawing its card if
    need be; previews skip that."""
    settings = config.settings.targets[target]
    if step is None:
        step = next((s for s in config.campaign.steps
                     if s.kind is kind and settings.platform in config.campaign.platforms_of(s)), None)
    lead = left if left is not None else (before_start(step, event) if step else None)
    destination = Destination(target=target, platform=settings.platform, lang=settings.lang,
                              link_placement=getattr(settings, "link_placement", None))
    post = renderer.render(event, kind, destination, before_start=lead, live_now=live_now, now=now)
    if post.image is not None and post.image.startswith("/"):
        # A cover uploaded before [web] public_url was set: the platforms fetch it from the app's public address.
        post = post.model_copy(update={"image": absolute(config.settings.web, post.image)})
    if post.platform is Platform.DZEN and post.image is None:
        # Dzen wants a cover at least 700 px wide: the generated card (None while [web] public_url is unset).
        post = post.model_copy(update={"image": CardStore(config.settings).image_for(event, post)})
    if post.platform is Platform.DZEN and measure and post.image is not None:
        post = post.model_copy(update={"image_length": CardStore(config.settings).image_length(event, post)})
    if getattr(settings, "track_clicks", False) and (base := public_base(config.settings.web)):
        # Clicks counted on the way (the report's "clicks"), per step: a post without one counts under its kind.
        post = with_go_links(post, event, base, step.id if step else kind.value)
    return post

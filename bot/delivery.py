"""Publishes one kind of post for one event to its targets: render, send, record; one failure stops no other."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from bot.abc import Adapter
from bot.adapters import build_adapter
from bot.config import AppConfig, Settings
from bot.domain import Event, Platform, PostKind, Receipt, RenderedPost, Step
from bot.errors import AnnounceBotError, ClaimLost, ConfigError, FitError, PermanentError, PublishError
from bot.images import CardStore
from bot.planning import before_start
from bot.rendering.renderer import Destination, Renderer
from bot.storage import Store

log = logging.getLogger(__name__)

AdapterFactory = Callable[[str, Settings], Adapter]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What happened to one post on one target."""

    target: str
    platform: Platform
    kind: PostKind
    post: RenderedPost | None = None
    receipt: Receipt | None = None
    error: AnnounceBotError | None = None
    delivery_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


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


def render_post(
    config: AppConfig, renderer: Renderer, event: Event, kind: PostKind, target: str, step: Step | None = None
) -> RenderedPost:
    """Render `kind` for `target`; a reminder says how long before the start its step goes out."""
    settings = config.settings.targets[target]
    if step is None:
        step = next(
            (s for s in config.campaign.steps
             if s.kind is kind and settings.platform in config.campaign.platforms_of(s)),
            None,
        )
    lead = before_start(step, event) if step else None
    destination = Destination(target=target, platform=settings.platform, lang=settings.lang)
    post = renderer.render(event, kind, destination, before_start=lead)
    if post.platform is Platform.DZEN and post.image is None:
        # Dzen wants a cover at least 700 px wide: the generated card (None while [web] public_url is unset).
        post = post.model_copy(update={"image": CardStore(config.settings).image_for(event, post)})
    return post


class Publisher:
    """Renders and publishes posts through the platform adapters, recording every attempt."""

    def __init__(
        self,
        config: AppConfig,
        store: Store,
        renderer: Renderer,
        adapters: AdapterFactory = build_adapter,
        observer: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.renderer = renderer
        self._factory = adapters
        self._observer = observer
        self._adapters: dict[str, Adapter] = {}

    def adapter(self, target: str) -> Adapter:
        if target not in self._adapters:
            self._adapters[target] = self._factory(target, self.config.settings)
        return self._adapters[target]

    async def aclose(self) -> None:
        adapters, self._adapters = list(self._adapters.values()), {}
        for adapter in adapters:
            await adapter.aclose()

    def targets_for(self, kind: PostKind, platforms: Iterable[Platform] | None = None) -> list[str]:
        return targets_for(self.config, kind, platforms)

    async def publish(
        self, event: Event, kind: PostKind, targets: Iterable[str], *, dry_run: bool = False
    ) -> list[Outcome]:
        """Publish to every target concurrently; each gets its own outcome."""
        return list(
            await asyncio.gather(*(self.publish_one(event, kind, t, dry_run=dry_run) for t in targets))
        )

    async def publish_one(
        self,
        event: Event,
        kind: PostKind,
        target: str,
        *,
        dry_run: bool = False,
        planned_post_id: int | None = None,
        step: Step | None = None,
        claimed_by: str | None = None,
    ) -> Outcome:
        """Render, send and record one post on one target; never raises for a platform's failure.

        `step` is the campaign step the post belongs to (a reminder says how long before the start it is);
        `claimed_by` is the worker holding the planned post's claim, checked just before sending.
        """
        outcome = await self._publish_one(event, kind, target, dry_run, planned_post_id, step, claimed_by)
        if self._observer is not None:
            self._observer(outcome)
        return outcome

    async def _publish_one(
        self, event: Event, kind: PostKind, target: str, dry_run: bool, planned_post_id: int | None,
        step: Step | None, claimed_by: str | None,
    ) -> Outcome:
        platform = self.config.settings.targets[target].platform
        base = Outcome(target=target, platform=platform, kind=kind)
        try:
            post = render_post(self.config, self.renderer, event, kind, target, step)
        except (ConfigError, FitError) as exc:
            if not dry_run:
                self._record_failure(event, kind, target, platform, planned_post_id, PermanentError(str(exc)))
            return replace(base, error=exc)
        if dry_run:
            return replace(base, post=post)
        delivery_id = self.store.start_delivery(
            event_id=event.id, kind=kind.value, target=target, platform=platform.value,
            planned_post_id=planned_post_id, claimed_by=claimed_by,
        )
        if delivery_id is None:
            lost = ClaimLost(f"post #{planned_post_id} was taken over by another worker")
            return replace(base, post=post, error=lost)
        fields = {"event": event.id, "kind": kind.value, "platform": platform.value, "target": target,
                  "post": planned_post_id}
        try:
            receipt = await self.adapter(target).publish(post)
        except PublishError as exc:
            log.warning("%s %s to %s failed: %s", event.id, kind.value, target, exc, extra=fields)
            self.store.finish_delivery(delivery_id, error=exc)
            return replace(base, post=post, error=exc, delivery_id=delivery_id)
        except Exception as exc:  # a bug in an adapter must not stop the other platforms
            log.exception("%s %s to %s: unexpected error", event.id, kind.value, target, extra=fields)
            error = PermanentError(f"unexpected error in the {platform.value} adapter: {type(exc).__name__}")
            self.store.finish_delivery(delivery_id, error=error)
            return replace(base, post=post, error=error, delivery_id=delivery_id)
        log.info("%s %s sent to %s: %s", event.id, kind.value, target, receipt.link or receipt.post_id,
                 extra=fields)
        self.store.finish_delivery(delivery_id, receipt=receipt)
        return replace(base, post=post, receipt=receipt, delivery_id=delivery_id)

    def _record_failure(
        self, event: Event, kind: PostKind, target: str, platform: Platform, planned: int | None,
        error: PublishError,
    ) -> None:
        delivery_id = self.store.start_delivery(
            event_id=event.id, kind=kind.value, target=target, platform=platform.value, planned_post_id=planned
        )
        if delivery_id is not None:
            self.store.finish_delivery(delivery_id, error=error)


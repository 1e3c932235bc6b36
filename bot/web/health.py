"""/healthz (status for all; database, scheduler, platforms, chat bot when signed in or with the token) and /metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.domain import Platform, PostState
from bot.web.auth import auth_of, bearer_ok, signed_in_user
from bot.web.state import Web, web_of

log = logging.getLogger(__name__)

# Seconds a platform took to answer a publish: Telegram answers in well under a second, VK and X in a few.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


ChatHealth = Callable[[], Mapping[str, Any]]


async def health(web: Web, chat: ChatHealth | None = None) -> tuple[int, dict[str, Any]]:
    """The health report and its HTTP status: 503 when the database fails, an expected scheduler is not running,
    or the chat bot says it is not ok."""
    report: dict[str, Any] = {}
    healthy = True
    try:
        targets = await web.queries.database_health()
        report["database"] = {"ok": True}
    except SQLAlchemyError as exc:
        log.error("health check: the database does not answer: %s", type(exc).__name__)
        report["database"] = {"ok": False, "error": type(exc).__name__}
        targets = []
        healthy = False
    running = web.dispatcher.running
    report["scheduler"] = {"running": running, "expected": web.schedules}
    if web.schedules and not running:
        healthy = False
    platforms: dict[str, Any] = {}
    for platform in Platform:
        mine = [t for t in targets if t.platform == platform.value]
        successes = [t.last_success for t in mine if t.last_success]
        failures = [t.last_failure for t in mine if t.last_failure]
        platforms[platform.value] = {
            "last_success": _iso(max(successes, default=None)),
            "last_failure": _iso(max(failures, default=None)),
            "targets": {t.target: {"last_success": _iso(t.last_success), "last_failure": _iso(t.last_failure),
                                   "last_error": t.last_error} for t in mine},
        }
    report["platforms"] = platforms
    # The chat bot's own report (ChatBot.health(), wired by the caller of create_app); None: not in this process.
    report["chat"] = dict(chat()) if chat is not None else None
    if report["chat"] is not None and report["chat"].get("ok") is False:
        healthy = False
    report["status"] = "ok" if healthy else "failing"
    return (200 if healthy else 503), report


async def healthz(request: Request) -> Response:
    """Status only for anyone (a load balancer's check); the details, which name targets and their last errors,
    for a signed-in dashboard user or with `Authorization: Bearer <[web] health_token>`."""
    status, report = await health(web_of(request), request.app.state.chat_health)
    if not (bearer_ok(request, auth_of(request).health_token) or await signed_in_user(request) is not None):
        report = {"status": report["status"]}
    return JSONResponse(report, status_code=status, headers={"Cache-Control": "no-store"})


class DatabaseCollector(Collector):
    """Counts what the database holds at each scrape, so every process (and a restart) reports the same totals."""

    def __init__(self, web: Web) -> None:
        self.web = web

    def collect(self) -> Iterator[Metric]:
        read = self.web.queries.counts(self.web.clock())  # prometheus collects in a worker thread (`metrics`)
        counts = read.deliveries
        labels = ["platform"]
        for name, state, doc in (
            ("announce_bot_posts_sent", PostState.SENT, "Posts (or threads) published, per platform."),
            ("announce_bot_posts_failed", PostState.FAILED, "Publish attempts that failed for good, per platform."),
            ("announce_bot_posts_retried", PostState.RETRYING,
             "Publish attempts that failed and were retried later, per platform."),
            ("announce_bot_posts_unknown", PostState.UNKNOWN,
             "Publish attempts whose outcome is unknown (a timeout after sending), per platform."),
        ):
            family = CounterMetricFamily(name, doc, labels=labels)
            for platform in Platform:
                family.add_metric([platform.value], counts.get((platform.value, state.value), 0))
            yield family
        yield GaugeMetricFamily("announce_bot_queue_depth", "Planned and retrying posts that are due now.",
                                value=read.queue_depth)
        yield GaugeMetricFamily("announce_bot_scheduler_running", "1 while the scheduler runs in this process.",
                                value=1 if self.web.dispatcher.running else 0)
        subscribers = GaugeMetricFamily("announce_bot_subscribers", "Active subscribers, per language.",
                                        labels=["lang"])
        for lang, count in read.subscribers.items():
            subscribers.add_metric([lang], count)
        yield subscribers
        yield self._latency(read.latencies)

    @staticmethod
    def _latency(samples: list[tuple[str, float]]) -> Metric:
        family = HistogramMetricFamily(
            "announce_bot_platform_reply_seconds",
            "How long a platform took to answer a publish (reply latency), per platform.",
            labels=["platform"],
        )
        for platform in Platform:
            values = [seconds for name, seconds in samples if name == platform.value]
            buckets = [(str(bound), float(sum(v <= bound for v in values))) for bound in LATENCY_BUCKETS]
            buckets.append(("+Inf", float(len(values))))
            family.add_metric([platform.value], buckets=buckets, sum_value=sum(values))
        return family


def registry(web: Web) -> CollectorRegistry:
    """A registry of this app's own (not the process-global one), so two apps never mix their numbers."""
    found = CollectorRegistry()
    found.register(DatabaseCollector(web))
    return found


async def metrics(request: Request) -> Response:
    token = auth_of(request).metrics_token
    if token is not None and not bearer_ok(request, token):
        return JSONResponse({"error": "/metrics needs Authorization: Bearer <[web] metrics_token>"}, status_code=401,
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"})
    data = await asyncio.to_thread(generate_latest, request.app.state.metrics)
    return Response(data, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


routes = [
    Route("/healthz", healthz, methods=["GET"], name="healthz"),
    Route("/metrics", metrics, methods=["GET"], name="metrics"),
]

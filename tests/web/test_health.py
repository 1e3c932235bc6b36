"""/healthz and /metrics against the real database and dispatcher: status for anyone, details after sign-in or
with the health token, /metrics behind its token when one is set."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from bot.domain import Platform, Receipt
from bot.errors import CredentialsError, TransientError
from bot.queries import Queries
from bot.storage import Store
from bot.web import create_app
from tests.fakes.telegram import FakeTelegram
from tests.web.support import EVENT_ID, Site, SiteFactory, attempt, client_for, csrf_of, login


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_healthz_reports_the_database_and_each_platform(site: Site, admin: httpx.AsyncClient) -> None:
    answer = await admin.get("/healthz")
    assert answer.status_code == 200
    report = answer.json()
    assert report["status"] == "ok" and report["database"] == {"ok": True}
    assert report["scheduler"] == {"running": False, "expected": False}  # `web` alone runs no scheduler
    assert set(report["platforms"]) == {"telegram", "vk", "x", "dzen", "max"}
    assert report["platforms"]["vk"]["last_success"] is None
    assert report["chat"] is None  # no chat bot in this process

    attempt(site, "live", "vk", receipt=_receipt("vk"))
    attempt(site, "live", "x", error=CredentialsError("X refused the token"))
    report = (await admin.get("/healthz")).json()
    vk = report["platforms"]["vk"]
    assert vk["last_success"] is not None and vk["targets"]["vk"]["last_failure"] is None
    x = report["platforms"]["x"]
    assert x["last_success"] is None and x["last_failure"] is not None
    assert x["targets"]["x"]["last_error"] == "X refused the token"


async def test_healthz_tells_strangers_the_status_only(site: Site, client: httpx.AsyncClient) -> None:
    attempt(site, "live", "x", error=CredentialsError("X refused the token"))
    for headers in ({}, {"Authorization": "Bearer guess"}, {"Authorization": "Basic Z3Vlc3M="}):
        answer = await client.get("/healthz", headers=headers)
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}, headers
        assert "refused" not in answer.text


async def test_healthz_details_with_the_health_token(monkeypatch: pytest.MonkeyPatch, make_site: SiteFactory) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__HEALTH_TOKEN", "a-long-health-token")
    site = make_site()
    async with client_for(site) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        answer = await http.get("/healthz", headers={"Authorization": "Bearer a-long-health-token"})
        assert answer.json()["database"] == {"ok": True} and "platforms" in answer.json()
        wrong = await http.get("/healthz", headers={"Authorization": "Bearer a-long-health-tokeX"})
        assert wrong.json() == {"status": "ok"}
    await site.publisher.aclose()


async def test_the_chat_bots_health_is_part_of_the_details(site: Site) -> None:
    said = {"ok": True, "mode": "polling", "leader": True}
    app = create_app(site.runtime.live, site.runtime.operations, clock=site.clock,
                     chat_health=lambda: said)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        await login(http)
        assert (await http.get("/healthz")).json()["chat"] == said
        said["ok"] = False  # the chat bot says it is in trouble: so is the bot
        answer = await http.get("/healthz")
        assert answer.status_code == 503 and answer.json()["status"] == "failing"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        answer = await http.get("/healthz")
        assert answer.status_code == 503 and answer.json() == {"status": "failing"}


async def test_metrics_behind_a_token_when_one_is_set(monkeypatch: pytest.MonkeyPatch, make_site: SiteFactory) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__METRICS_TOKEN", "a-long-metrics-token")
    site = make_site()
    async with client_for(site) as http:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "a-long-metrics-token"}):
            answer = await http.get("/metrics", headers=headers)
            assert answer.status_code == 401, headers
            assert answer.headers["www-authenticate"].startswith("Bearer") and "announce_bot" not in answer.text
        answer = await http.get("/metrics", headers={"Authorization": "Bearer a-long-metrics-token"})
        assert answer.status_code == 200 and "announce_bot_queue_depth" in answer.text
    await site.publisher.aclose()


def _receipt(platform: str) -> Receipt:
    return Receipt(platform=Platform(platform), target=platform, post_id="1", link="https://vk.com/wall-1_1")


async def test_healthz_fails_while_the_scheduler_it_expects_is_not_running(make_site: SiteFactory) -> None:
    site = make_site(with_dispatcher=True)
    site.clock.now = site.store.event(EVENT_ID).end.replace(year=2030)  # type: ignore[union-attr]
    dispatcher = site.app.state.web.dispatcher
    async with client_for(site) as http:
        await login(http)
        answer = await http.get("/healthz")
        assert answer.status_code == 503
        assert answer.json()["scheduler"] == {"running": False, "expected": True}
        await dispatcher.start()
        try:
            answer = await http.get("/healthz")
            assert answer.status_code == 200 and answer.json()["scheduler"]["running"] is True
            metrics = _samples((await http.get("/metrics")).text)
            assert metrics[("announce_bot_scheduler_running", ())] == 1
        finally:
            await dispatcher.stop()
        answer = await http.get("/healthz")
        assert answer.status_code == 503


async def test_healthz_fails_when_the_database_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, make_site: SiteFactory, tmp_path: Path
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__HEALTH_TOKEN", "a-long-health-token")
    site = make_site()
    app = create_app(site.runtime.live, site.runtime.operations)  # started while the database answered
    engine = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'x.db'}")
    app.state.web.queries = Queries(Store(sessionmaker(engine)))  # and then it went away
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        answer = await http.get("/healthz", headers={"Authorization": "Bearer a-long-health-token"})
        assert (await http.get("/healthz")).json() == {"status": "failing"}
    assert answer.status_code == 503
    assert answer.json()["database"] == {"ok": False, "error": "OperationalError"}
    assert answer.json()["status"] == "failing"


async def test_metrics_count_sent_failed_retried_per_platform_and_queue_depth(
    fake_telegram: FakeTelegram, make_site: SiteFactory
) -> None:
    site = make_site()
    async with client_for(site) as http:
        answer = await http.get("/metrics")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
        metrics = _samples(answer.text)
        for platform in ("telegram", "vk", "x", "dzen"):
            assert metrics[("announce_bot_posts_sent_total", (("platform", platform),))] == 0
        # 25 November: the five announcements are due (and overdue), nothing else yet.
        assert metrics[("announce_bot_queue_depth", ())] == 5
        assert metrics[("announce_bot_scheduler_running", ())] == 0

        await login(http)
        token = csrf_of((await http.get(f"/admin/events/{EVENT_ID}")).text)
        fake_telegram.fail_method("sendMessage", FakeTelegram.server_error())
        fake_telegram.fail_method("sendMessage", FakeTelegram.kicked(), after=1)
        for step, target in (("announcement", "vk"), ("announcement", "dzen"), ("announcement", "telegram"),
                             ("announcement", "telegram"), ("live", "telegram")):
            post_id = site.post_id(step, target)
            await http.post(f"/admin/posts/{post_id}/publish", data={"csrf_token": token})
        # telegram: the announcement failed (503: retrying), was pressed again (sent); the live post was refused.
        assert site.state(site.post_id("announcement", "telegram")) == "sent"
        assert site.state(site.post_id("live", "telegram")) == "failed"
        attempt(site, "reminder-1d", "x", error=TransientError("timeout"))

        metrics = _samples((await http.get("/metrics")).text)
    await site.publisher.aclose()

    def value(name: str, platform: str) -> float:
        return metrics[(name, (("platform", platform),))]

    assert [value("announce_bot_posts_sent_total", p) for p in ("telegram", "vk", "x", "dzen")] == [1, 1, 0, 1]
    assert value("announce_bot_posts_failed_total", "telegram") == 1
    assert value("announce_bot_posts_retried_total", "telegram") == 1
    assert value("announce_bot_posts_retried_total", "x") == 1
    # Three announcements left the queue (vk, dzen, telegram); x and telegram_ru are still due.
    assert metrics[("announce_bot_queue_depth", ())] == 2
    # Reply latency: one observation per finished delivery, all well under a minute on loopback.
    assert metrics[("announce_bot_platform_reply_seconds_count", (("platform", "telegram"),))] == 3
    assert metrics[("announce_bot_platform_reply_seconds_bucket", (("le", "60.0"), ("platform", "telegram")))] == 3

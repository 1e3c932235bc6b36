"""Security: every dashboard route needs a login, forms need the session's CSRF token, failed sign-ins are slowed,
event text is escaped, admin pages are not for search engines. (tests/web/test_auth_http.py: the same over HTTP.)"""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from starlette.routing import Route

from bot.accounts import Role
from tests.fakes.telegram import FakeTelegram
from tests.web.support import EVENT_ID, PASSWORD, Site, SiteFactory, add_user, client_for, csrf_of, login


def _dashboard_routes(site: Site) -> list[tuple[str, str]]:
    """(method, path) of every dashboard route but the login form itself, with real path parameters."""
    post_id = site.post_id("announcement", "telegram")
    found = []
    for route in site.app.routes:
        if not isinstance(route, Route) or not route.path.startswith("/admin") or route.path.startswith("/admin/login"):
            continue
        path = route.path.replace("{event_id}", EVENT_ID).replace("{post_id:int}", str(post_id))
        found += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def _states(site: Site) -> dict[int, str]:
    return {post.id: post.state for post in site.store.posts()}


async def test_every_dashboard_route_refuses_an_anonymous_request(site: Site, client: httpx.AsyncClient) -> None:
    routes = _dashboard_routes(site)
    # The dashboard, the event page, logout and the three actions: nothing slipped past the list.
    assert {path.rsplit("/", 1)[-1] for _, path in routes} >= {"admin", EVENT_ID, "publish", "retry", "skip",
                                                                  "logout"}
    before = _states(site)
    for method, path in routes:
        answer = await client.request(method, path, data={"csrf_token": "guess"} if method == "POST" else None)
        if method == "GET":
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/admin/login?next=/admin"), path
        else:
            assert answer.status_code == 401, (method, path)
            assert "You are not logged in." in answer.text
        assert "Russia-North Korea" not in answer.text, path
    assert _states(site) == before  # no action was taken


async def test_a_forged_session_cookie_is_refused(site: Site, admin: httpx.AsyncClient) -> None:
    real = admin.cookies["announce_bot_session"]
    payload, rest = real.split(".", 1)
    data = json.loads(base64.b64decode(payload))
    assert set(data) == {"sid", "csrf"}  # a random session token and the CSRF token: nothing about the password
    forged_payload = base64.b64encode(json.dumps({**data, "sid": data["sid"][::-1]}).encode()).decode()
    for value, status in ((real, 200), (f"{forged_payload}.{rest}", 303)):
        async with client_for(site) as other:
            other.cookies.set("announce_bot_session", value)
            assert (await other.get("/admin")).status_code == status


async def test_forms_without_a_valid_csrf_token_are_refused(
    fake_telegram: FakeTelegram, make_site: SiteFactory
) -> None:
    site = make_site()
    post_id = site.post_id("announcement", "telegram")
    async with client_for(site) as admin, client_for(site) as other:
        await login(admin)
        await login(other)
        other_token = csrf_of((await other.get("/admin")).text)
        own_token = csrf_of((await admin.get("/admin")).text)
        assert other_token != own_token
        for data in ({}, {"csrf_token": ""}, {"csrf_token": "not-the-token"}, {"csrf_token": other_token}):
            for action in ("publish", "retry", "skip"):
                answer = await admin.post(f"/admin/posts/{post_id}/{action}", data=data)
                assert answer.status_code == 403, (action, data)
                assert "no valid security token" in answer.text
        answer = await admin.post("/admin/logout", data={"csrf_token": "nope"})
        assert answer.status_code == 403
        assert site.state(post_id) == "planned" and fake_telegram.messages == []
        # The same form with the session's own token goes through.
        answer = await admin.post(f"/admin/posts/{post_id}/publish", data={"csrf_token": own_token})
        assert answer.status_code == 303 and site.state(post_id) == "sent"
    await site.publisher.aclose()


async def test_login_form_needs_its_csrf_token(client: httpx.AsyncClient) -> None:
    await client.get("/admin/login")
    answer = await client.post("/admin/login", data={"password": PASSWORD, "csrf_token": "forged"})
    assert answer.status_code == 403
    assert (await client.get("/admin")).status_code == 303


async def test_wrong_passwords_are_slowed_with_growing_waits_not_locked(site: Site, client: httpx.AsyncClient) -> None:
    answer = await login(client, "wrong")
    assert answer.status_code == 401 and "Wrong name or password." in answer.text
    # At once again, even with the right password: refused unchecked, and told how long to wait.
    answer = await login(client)
    assert answer.status_code == 429 and answer.headers["retry-after"] == "1"
    assert "try again in 1 s" in answer.text
    waits = []
    for _ in range(8):
        site.clock.now += timedelta(seconds=int((await login(client, "wrong")).headers.get("retry-after", "0")))
        answer = await login(client, "still wrong")
        assert answer.status_code == 401  # checked: the wait was over
        waits.append(int((await login(client, "wrong")).headers["retry-after"]))
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]  # doubling up to [web] login_delay_max
    site.clock.now += timedelta(seconds=59)
    assert (await login(client)).status_code == 429
    site.clock.now += timedelta(seconds=1)
    answer = await login(client)  # never a lock: once the wait is over the right password works
    assert answer.status_code == 303 and answer.headers["location"] == "/admin"
    assert (await client.get("/admin")).status_code == 200


async def test_a_name_that_does_not_exist_is_answered_like_a_wrong_password(client: httpx.AsyncClient) -> None:
    answer = await login(client, "whatever", name="nobody")
    assert answer.status_code == 401 and "Wrong name or password." in answer.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/admin", "/events", "/admin\\@evil"])
async def test_login_never_redirects_off_the_dashboard(client: httpx.AsyncClient, target: str) -> None:
    page = await client.get("/admin/login")
    answer = await client.post("/admin/login", data={"csrf_token": csrf_of(page.text), "password": PASSWORD,
                                                     "next": target})
    assert answer.status_code == 303 and answer.headers["location"] == "/admin"


async def test_login_returns_to_the_page_asked_for(client: httpx.AsyncClient) -> None:
    first = await client.get(f"/admin/events/{EVENT_ID}")
    assert first.headers["location"] == f"/admin/login?next=/admin/events/{EVENT_ID}"
    page = await client.get(first.headers["location"])
    answer = await client.post("/admin/login", data={"csrf_token": csrf_of(page.text), "password": PASSWORD,
                                                     "next": f"/admin/events/{EVENT_ID}"})
    assert answer.headers["location"] == f"/admin/events/{EVENT_ID}"


async def test_logout_ends_the_session(admin: httpx.AsyncClient) -> None:
    token = csrf_of((await admin.get("/admin")).text)
    answer = await admin.post("/admin/logout", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/login"
    assert (await admin.get("/admin")).status_code == 303


async def test_a_session_expires(monkeypatch: pytest.MonkeyPatch, make_site: SiteFactory) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__SESSION_HOURS", "1")
    site = make_site()
    async with client_for(site) as http:
        await login(http)
        site.clock.now += timedelta(minutes=59)
        assert (await http.get("/admin")).status_code == 200
        site.clock.now += timedelta(minutes=1)
        assert (await http.get("/admin")).status_code == 303
    await site.publisher.aclose()


async def test_admin_pages_are_not_for_search_engines_and_every_page_has_a_permissions_policy(
    site: Site, admin: httpx.AsyncClient,
) -> None:
    async with client_for(site) as anonymous:
        answers = [await anonymous.get("/admin/login"), await anonymous.post("/admin/logout")]
    for path in ("/admin", f"/admin/events/{EVENT_ID}", "/healthz", "/metrics"):
        answers.append(await admin.get(path))
    for answer in answers:
        path = answer.request.url.path
        assert answer.headers["x-robots-tag"] == "noindex, nofollow", path
        assert "camera=()" in answer.headers["permissions-policy"], path
        if answer.headers["content-type"].startswith("text/html"):
            assert '<meta name="robots" content="noindex, nofollow">' in answer.text, path
    public = await admin.get(f"/events/{EVENT_ID}")
    assert "x-robots-tag" not in public.headers and "noindex" not in public.text
    assert "geolocation=()" in public.headers["permissions-policy"]
    assert "cookie" not in public.headers.get("vary", "").lower()  # a public page never reads the session


async def test_without_a_password_the_dashboard_is_locked_and_says_how_to_open_it(
    monkeypatch: pytest.MonkeyPatch, make_site: SiteFactory
) -> None:
    monkeypatch.delenv("ANNOUNCE_BOT_WEB__PASSWORD")
    site = make_site()
    async with client_for(site) as http:
        for method, path in [("GET", "/admin/login"), ("POST", "/admin/login"), *_dashboard_routes(site)]:
            answer = await http.request(method, path, data={"password": "", "csrf_token": ""}
                                        if method == "POST" else None)
            assert answer.status_code == 403, (method, path)
            assert "ANNOUNCE_BOT_WEB__PASSWORD" in answer.text and "password_file" in answer.text
        # The public pages and feeds work all the same.
        for path in ("/events", f"/events/{EVENT_ID}", "/feeds/events.rss", "/feeds/events.ics", "/healthz"):
            assert (await http.get(path)).status_code == 200, path


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _hostile_event(workdir: Path) -> None:
    text = (workdir / "config" / "events" / "russia-dprk-treaty.yaml").read_text()
    text = text.replace("id: russia-dprk-treaty", "id: hostile")
    text = text.replace("  en: Valdai Club to Discuss Russia-North Korea Treaty",
                        f"  en: 'Title {HOSTILE}'")
    text = text.replace("  ru: Клуб «Валдай» обсудит договор России и КНДР", f"  ru: 'Заголовок {HOSTILE}'")
    text = text.replace("  - name: {en: Ilya Dyachkov, ru: Илья Дьячков}",
                        f"  - name: {{en: 'Ilya {HOSTILE}', ru: 'Илья {HOSTILE}'}}")
    text = text.replace("    en: Valdai Club Conference Hall", f"    en: 'Hall {HOSTILE}'")
    text = text.replace("    ru: Конференц-зал Клуба «Валдай»", f"    ru: 'Зал {HOSTILE}'")
    (workdir / "config" / "events" / "hostile.yaml").write_text(text)


async def test_event_text_with_html_or_script_is_escaped_on_every_page(make_site: SiteFactory, web_env: Path) -> None:
    _hostile_event(web_env)
    site = make_site()
    site.clock.now = site.store.event("hostile").start  # type: ignore[union-attr]  # live: every link shows
    pages = ["/events", "/events?lang=ru", "/events/hostile", "/events/hostile?lang=ru", "/admin",
             "/admin/events/hostile"]
    async with client_for(site) as http:
        await login(http)
        for path in pages:
            answer = await http.get(path)
            assert answer.status_code == 200, path
            body = answer.text
            assert "<script>alert" not in body and "<img src=x" not in body, path
            assert "&lt;script&gt;alert" in body, path  # the text is shown, as text
        # Every preview card on the dashboard shows it escaped too (Telegram, VK, X and Dzen alike).
        dashboard = (await http.get("/admin/events/hostile")).text
        cards = re.findall(r'<article class="preview (\w+)".*?</article>', dashboard, re.DOTALL)
        assert set(cards) == {"telegram", "vk", "x", "dzen"}
        for card in re.findall(r'<article class="preview.*?</article>', dashboard, re.DOTALL):
            assert "<script" not in card and re.search(r"<img[^>]*onerror", card) is None
            if 'data-step="announcement"' in card:  # the announcement carries the title and the speakers
                assert card.count("&lt;script&gt;alert") >= 2
        # The RSS description is text: a feed reader that renders it as HTML shows the tags, runs nothing.
        rss = ET.fromstring((await http.get("/feeds/events.rss")).content)
        item = next(i for i in rss.iter("item") if "hostile" in (i.findtext("link") or ""))
        assert "<script>" in (item.findtext("title") or "")
        assert "<script" not in (item.findtext("description") or "") and "&lt;script&gt;" in (
            item.findtext("description") or "")
    await site.publisher.aclose()


async def test_a_password_typed_into_the_name_field_is_neither_logged_nor_stored(
    site: Site, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    typed = "my-Secret-password-in-the-wrong-field"
    answer = await login(client, "", name=typed)
    assert answer.status_code == 400  # no password given
    answer = await login(client, "whatever", name=typed)
    assert answer.status_code == 401
    assert typed.lower() not in caplog.text and "an unknown name" in caplog.text
    with site.store.sessions() as session:
        stored = session.execute(text("SELECT key FROM web_login_failures")).scalars().all()
    assert stored and not any(typed.lower() in key for key in stored)


async def test_users_open_the_dashboard_without_a_settings_password(
    monkeypatch: pytest.MonkeyPatch, make_site: SiteFactory
) -> None:
    monkeypatch.delenv("ANNOUNCE_BOT_WEB__PASSWORD")
    site = make_site()
    add_user(site, "anna", Role.EDITOR, "anna's long password")
    async with client_for(site) as http:
        assert (await login(http, PASSWORD)).status_code == 401  # no "admin" without the settings password
        site.clock.now += timedelta(seconds=1)  # the wait that failure imposed
        assert (await login(http, "anna's long password", name="Anna")).status_code == 303
        assert (await http.get("/admin")).status_code == 200
    await site.publisher.aclose()


async def test_a_new_settings_password_ends_admins_sessions_and_unsetting_it_removes_admin(
    monkeypatch: pytest.MonkeyPatch, make_site: SiteFactory
) -> None:
    first = make_site()
    async with client_for(first) as http:
        await login(http)
        cookie = http.cookies["announce_bot_session"]
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PASSWORD", "a brand new password")
    second = make_site()  # the bot restarted with the new password
    async with client_for(second) as stale, client_for(second) as http:
        stale.cookies.set("announce_bot_session", cookie)
        assert (await stale.get("/admin")).status_code == 303
        assert (await login(http)).status_code == 401
        second.clock.now += timedelta(seconds=1)  # the wait that failure imposed
        assert (await login(http, "a brand new password")).status_code == 303
        cookie = http.cookies["announce_bot_session"]
    monkeypatch.delenv("ANNOUNCE_BOT_WEB__PASSWORD")
    third = make_site()
    async with client_for(third) as http:
        http.cookies.set("announce_bot_session", cookie)
        assert (await http.get("/admin")).status_code == 403  # no user left: locked, and it says how to open it
        assert "announce-bot user add" in (await http.get("/admin")).text
    for site in (first, second, third):
        await site.publisher.aclose()


"""The dashboard's security from outside: the real server (uvicorn, bot/web/server.py) on 127.0.0.1, spoken to
over HTTP by httpx, with clients on other loopback addresses (127.0.0.2, …) where an address matters."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route
from typer.testing import CliRunner

from bot.accounts import Role
from bot.cli import app as cli
from bot.web.server import WebServer
from tests.web.support import EVENT_ID, PASSWORD, Site, SiteFactory, add_user, csrf_of

COOKIE = "announce_bot_session"
ANNA = ("anna", "anna's long password")  # an editor
VIKTOR = ("viktor", "viktor's long password")  # a viewer

Client = Callable[..., httpx.AsyncClient]


@asynccontextmanager
async def serving(site: Site) -> AsyncIterator[Client]:
    """The site's app served by the real WebServer; yields a factory of clients (from a loopback address)."""
    server = WebServer(site.app, "127.0.0.1", 0)
    await server.start()
    made: list[httpx.AsyncClient] = []

    def client(address: str = "127.0.0.1", **options: object) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        http = httpx.AsyncClient(base_url=server.url, transport=transport, timeout=20, **options)  # type: ignore[arg-type]
        made.append(http)
        return http

    try:
        yield client
    finally:
        for http in made:
            await http.aclose()
        await server.stop()
        await site.publisher.aclose()


async def sign_in(http: httpx.AsyncClient, name: str = "", password: str = PASSWORD,
                  headers: dict[str, str] | None = None) -> httpx.Response:
    page = await http.get("/admin/login", headers=headers)
    assert page.status_code == 200, page.text
    return await http.post("/admin/login", headers=headers, data={
        "csrf_token": csrf_of(page.text), "name": name, "password": password, "next": "/admin"})


async def test_a_cookie_copied_before_logout_is_refused_after(site: Site) -> None:
    async with serving(site) as client:
        browser = client()
        assert (await sign_in(browser)).status_code == 303
        copied = browser.cookies[COOKIE]
        thief = client("127.0.0.2")
        thief.cookies.set(COOKIE, copied)
        assert (await thief.get("/admin")).status_code == 200  # a copy works while the session lives ...
        token = csrf_of((await browser.get("/admin")).text)
        assert (await browser.post("/admin/logout", data={"csrf_token": token})).status_code == 303
        answer = await thief.get("/admin")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/login")  # ... not after
        answer = await thief.post(f"/admin/posts/{site.post_id('announcement', 'vk')}/skip",
                                  data={"csrf_token": token})
        assert answer.status_code == 401
    assert site.state(site.post_id("announcement", "vk")) == "planned"


async def test_a_password_change_ends_every_session_of_that_user(
    site: Site, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    add_user(site, ANNA[0], Role.EDITOR, ANNA[1])
    add_user(site, VIKTOR[0], Role.VIEWER, VIKTOR[1])
    async with serving(site) as client:
        laptop, phone, other = client(), client("127.0.0.2"), client("127.0.0.3")
        for http, (name, password) in ((laptop, ANNA), (phone, ANNA), (other, VIKTOR)):
            assert (await sign_in(http, name, password)).status_code == 303
        new_password = tmp_path / "new-password"
        new_password.write_text("anna's new long password\n")
        monkeypatch.setenv("ANNOUNCE_BOT_DATABASE__URL", str(site.store.sessions.kw["bind"].url))
        result = CliRunner().invoke(cli, ["--config", "config", "user", "passwd", "anna",
                                          "--password-file", str(new_password)])
        assert result.exit_code == 0, result.output
        assert "2 session(s) ended" in result.output
        for http in (laptop, phone):
            assert (await http.get("/admin")).status_code == 303
        assert (await other.get("/admin")).status_code == 200  # another user's session goes on
        assert (await sign_in(client("127.0.0.4"), "anna", ANNA[1])).status_code == 401
        assert (await sign_in(laptop, "anna", "anna's new long password")).status_code == 303


def _payload(cookie: str) -> dict[str, str]:
    data: dict[str, str] = json.loads(base64.b64decode(cookie.split(".", 1)[0]))
    return data


async def test_the_cookie_does_not_reveal_the_password(make_site: SiteFactory, web_env: Path) -> None:
    """Two installations with the same password sign differently: the key is not a function of the password.
    An anonymous cookie from one (with its CSRF token) is refused by the other; a logged-in one too."""
    first = make_site()
    second = make_site(database_url=f"sqlite:///{web_env / 'var' / 'second.db'}")
    async with serving(first) as on_first, serving(second) as on_second:
        visitor = on_first()
        form = await visitor.get("/admin/login")
        cookie = visitor.cookies[COOKIE]
        assert PASSWORD not in json.dumps(_payload(cookie))
        elsewhere = on_second()
        elsewhere.cookies.set(COOKIE, cookie)
        answer = await elsewhere.post("/admin/login", data={"csrf_token": csrf_of(form.text), "password": PASSWORD})
        assert answer.status_code == 403 and "no valid security token" in answer.text  # the signature failed
        answer = await visitor.post("/admin/login", data={"csrf_token": csrf_of(form.text), "password": PASSWORD})
        assert answer.status_code == 303  # the same cookie and form at home: signed in
        elsewhere.cookies.set(COOKIE, visitor.cookies[COOKIE])
        assert (await elsewhere.get("/admin")).status_code == 303


async def test_a_given_session_key_signs_the_cookies(
    monkeypatch: pytest.MonkeyPatch, make_site: SiteFactory, web_env: Path
) -> None:
    """With `[web] session_key` set (here from the environment) both installations take each other's signature,
    which shows that the key, and not the password, is what signs."""
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__SESSION_KEY", "k" * 40)
    first = make_site()
    second = make_site(database_url=f"sqlite:///{web_env / 'var' / 'second.db'}")
    async with serving(first) as on_first, serving(second) as on_second:
        visitor = on_first()
        form = await visitor.get("/admin/login")
        elsewhere = on_second()
        elsewhere.cookies.set(COOKIE, visitor.cookies[COOKIE])
        answer = await elsewhere.post("/admin/login", data={"csrf_token": csrf_of(form.text), "password": PASSWORD})
        assert answer.status_code == 303
    assert "k" * 40 in first.config.settings.all_secrets()  # scrubbed from logs like every secret


async def test_sessions_survive_a_restart_and_work_on_every_replica(
    database_url: str, make_site: SiteFactory
) -> None:
    first = make_site(database_url=database_url)
    async with serving(first) as client:
        browser = client()
        assert (await sign_in(browser)).status_code == 303
        cookie = browser.cookies[COOKIE]
    second = make_site(database_url=database_url)  # another replica, or the same after a restart
    async with serving(second) as client:
        again = client()
        again.cookies.set(COOKIE, cookie)
        page = await again.get("/admin")
        assert page.status_code == 200 and "admin (admin)" in page.text
        token = csrf_of(page.text)
        assert (await again.post("/admin/logout", data={"csrf_token": token})).status_code == 303
    third = make_site(database_url=database_url)
    async with serving(third) as client:
        late = client()
        late.cookies.set(COOKIE, cookie)
        assert (await late.get("/admin")).status_code == 303  # logged out on one replica: on all


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(site: Site) -> None:
    async with serving(site) as client:
        http = client()
        assert (await sign_in(http, password="wrong", headers={"X-Forwarded-For": "203.0.113.1"})).status_code == 401
        # A new "address" in the header changes nothing: the peer (127.0.0.1) is what counts, and it must wait.
        for spoofed in ("203.0.113.2", "198.51.100.7", "127.0.0.5"):
            answer = await sign_in(http, headers={"X-Forwarded-For": spoofed, "X-Real-IP": spoofed})
            assert answer.status_code == 429, spoofed
        assert (await sign_in(client("127.0.0.2"))).status_code == 303  # another real address is not held up


async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(
    monkeypatch: pytest.MonkeyPatch, make_site: SiteFactory
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__TRUSTED_PROXIES", '["127.0.0.1/32"]')
    site = make_site()
    async with serving(site) as client:
        proxy = client()  # every client comes through the one proxy, as behind a reverse proxy

        def via(address: str) -> dict[str, str]:
            return {"X-Forwarded-For": address}

        assert (await sign_in(proxy, password="wrong", headers=via("203.0.113.1"))).status_code == 401
        assert (await sign_in(proxy, headers=via("203.0.113.1"))).status_code == 429
        # The client may prepend what it likes; the proxy appends the address it saw, and that one counts.
        assert (await sign_in(proxy, headers=via("198.51.100.9, 203.0.113.1"))).status_code == 429
        # Behind the proxy another client is not held up by the first one's failures.
        answer = await sign_in(proxy, headers=via("198.51.100.9"))
        assert answer.status_code == 303
        # A peer that is not the proxy is not believed.
        stranger = client("127.0.0.2")
        assert (await sign_in(stranger, password="wrong", headers=via("192.0.2.1"))).status_code == 401
        assert (await sign_in(stranger, headers=via("192.0.2.2"))).status_code == 429


async def test_a_locked_out_address_does_not_lock_out_another(site: Site) -> None:
    async with serving(site) as client:
        attacker, organiser = client("127.0.0.2"), client("127.0.0.3")
        for _ in range(6):
            await sign_in(attacker, password="guess")
            site.clock.now += timedelta(seconds=1)
        assert (await sign_in(attacker)).status_code == 429  # even the right password waits there
        assert (await sign_in(organiser)).status_code == 303  # checked at once, from an address of its own
        stranger = client("127.0.0.4")
        assert (await sign_in(stranger, password="typo")).status_code == 401  # checked too, not refused unchecked


async def test_the_right_password_from_a_clean_address_works_while_the_account_is_hammered(site: Site) -> None:
    async with serving(site) as client:
        attackers = [client(f"127.0.0.{n}") for n in range(10, 20)]
        refused = checked = 0
        for second in range(60):  # a minute of guesses from ten addresses, one each every second
            for attacker in attackers:
                status = (await sign_in(attacker, password=f"guess {second}")).status_code
                refused += status == 429
                checked += status == 401
            site.clock.now += timedelta(seconds=1)
        # Each address's first guess is checked at once; after that each waits for the account too, and the
        # account's wait (10 failures: the longest, 60 s) outlasts the minute: 10 checks, not 600.
        assert (checked, refused) == (10, 590)
        # An address that failed once waits for the account too: the account's many failures slow it at once.
        fresh = client("127.0.0.30")
        assert (await sign_in(fresh, password="one guess")).status_code == 401
        site.clock.now += timedelta(seconds=2)  # its own wait (1 s) is over, the account's is not
        assert (await sign_in(fresh, password="second guess")).status_code == 429
        # Meanwhile the organiser, from an address that has not failed, signs in at the first try.
        organiser = client("127.0.0.40")
        answer = await sign_in(organiser)
        assert answer.status_code == 303 and (await organiser.get("/admin")).status_code == 200


async def test_a_browser_that_signed_in_before_waits_only_for_its_own_typos(site: Site) -> None:
    async with serving(site) as client:
        organiser = client("127.0.0.2")
        assert (await sign_in(organiser)).status_code == 303  # as on any earlier day
        token = csrf_of((await organiser.get("/admin")).text)
        await organiser.post("/admin/logout", data={"csrf_token": token})
        for n, attacker in enumerate(client(f"127.0.0.{n}") for n in range(10, 20)):
            assert (await sign_in(attacker, password=f"guess {n}")).status_code == 401
        # The organiser mistypes once during the attack: its own address waits 1 s, and not the account's 60 s.
        assert (await sign_in(organiser, password="typo")).status_code == 401
        site.clock.now += timedelta(seconds=1)
        assert (await sign_in(organiser)).status_code == 303
        # Another browser on that same address, which never signed in, waits for the account.
        newcomer = client("127.0.0.2")
        assert (await sign_in(newcomer, password="typo")).status_code == 429


async def test_concurrent_guesses_from_one_address_get_one_check(site: Site) -> None:
    async with serving(site) as client:
        http = client("127.0.0.2")
        page = await http.get("/admin/login")
        form = {"csrf_token": csrf_of(page.text), "name": "admin"}
        answers = await asyncio.gather(*(http.post("/admin/login", data={**form, "password": f"guess {n}"})
                                         for n in range(12)))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [401] + [429] * 11


def _actions(site: Site) -> list[str]:
    """Every state-changing dashboard route (a form's POST) but logout, with a real post id."""
    post_id = site.post_id("announcement", "vk")
    return [route.path.replace("{post_id:int}", str(post_id)).replace("{event_id}", EVENT_ID)
            for route in site.app.routes
            if isinstance(route, Route) and route.path.startswith("/admin") and "POST" in (route.methods or ())
            and not route.path.startswith(("/admin/login", "/admin/logout"))]


async def test_a_viewer_sees_everything_but_cannot_publish_retry_skip_or_edit(site: Site) -> None:
    add_user(site, VIKTOR[0], Role.VIEWER, VIKTOR[1])
    add_user(site, ANNA[0], Role.EDITOR, ANNA[1])
    actions = _actions(site)
    assert {path.rsplit("/", 1)[-1] for path in actions} >= {"publish", "retry", "skip"}
    before = {post.id: post.state for post in site.store.posts()}
    async with serving(site) as client:
        viewer = client()
        assert (await sign_in(viewer, *VIKTOR)).status_code == 303
        for path in ("/admin", f"/admin/events/{EVENT_ID}", "/healthz"):
            page = await viewer.get(path)
            assert page.status_code == 200, path
        assert "viktor (viewer)" in page.text or "platforms" in page.json()
        token = csrf_of((await viewer.get("/admin")).text)
        for path in actions:
            answer = await viewer.post(path, data={"csrf_token": token})
            assert answer.status_code == 403, path
            needed = "approver" if path.endswith("/approve") else "editor"
            assert f"Your role (viewer) may not do this: it needs {needed}" in answer.text
        assert {post.id: post.state for post in site.store.posts()} == before
        editor = client("127.0.0.2")
        assert (await sign_in(editor, *ANNA)).status_code == 303
        token = csrf_of((await editor.get("/admin")).text)
        answer = await editor.post(f"/admin/posts/{site.post_id('announcement', 'vk')}/publish",
                                   data={"csrf_token": token})
        assert answer.status_code == 303
    assert site.state(site.post_id("announcement", "vk")) == "sent"

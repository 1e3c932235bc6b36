"""Sign-in with Telegram's Login Widget: the data is signed here as Telegram documents it
(core.telegram.org/widgets/login#checking-authorization), written out independently of bot/web/telegram_login.py."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.accounts import Role
from bot.config import load_config
from bot.errors import ConfigError
from tests.web.support import TELEGRAM_TOKEN, Site, SiteFactory, add_user, client_for

ANNA_ID = 31337


def telegram_signed(token: str, **fields: str) -> dict[str, str]:
    """What Telegram appends to data-auth-url: the fields, and `hash` = hex HMAC-SHA-256 of the sorted
    `key=value` lines, keyed with SHA-256(bot token)."""
    check_string = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    key = hashlib.sha256(token.encode()).digest()
    return {**fields, "hash": hmac.new(key, check_string.encode(), hashlib.sha256).hexdigest()}


@pytest.fixture
def tg_site(monkeypatch: pytest.MonkeyPatch, make_site: SiteFactory) -> Iterator[Site]:
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN", TELEGRAM_TOKEN)
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__TELEGRAM_LOGIN", "valdai_events_bot")
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PUBLIC_URL", "https://events.example.org")
    site = make_site()
    add_user(site, "anna", Role.EDITOR, telegram_id=ANNA_ID)  # Telegram only: no password
    yield site


def https_client(site: Site) -> httpx.AsyncClient:
    """public_url is https: the cookies are Secure, so the client speaks https as the browser would."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app), base_url="https://events.example.org")


def _fields(site: Site, telegram_id: int = ANNA_ID, age: timedelta = timedelta(0)) -> dict[str, str]:
    signed_at = int((site.clock() - age).timestamp())
    return {"id": str(telegram_id), "first_name": "Anna", "username": "anna_v", "auth_date": str(signed_at),
            "photo_url": "https://t.me/i/userpic/320/anna.jpg"}


async def test_the_login_page_offers_the_widget_and_allows_its_script(tg_site: Site) -> None:
    async with client_for(tg_site) as http:
        page = await http.get("/admin/login?next=/admin/events/x")
    assert 'data-telegram-login="valdai_events_bot"' in page.text
    assert ('data-auth-url="https://events.example.org/admin/login/telegram?next=%2Fadmin%2Fevents%2Fx"'
            in page.text)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' https://telegram.org" in policy and "frame-src https://oauth.telegram.org" in policy


async def test_signed_data_of_a_known_telegram_account_signs_in(tg_site: Site) -> None:
    async with https_client(tg_site) as http:
        data = telegram_signed(TELEGRAM_TOKEN, **_fields(tg_site))
        answer = await http.get("/admin/login/telegram", params={**data, "next": "/admin/events/russia-dprk-treaty"})
        assert answer.status_code == 303 and answer.headers["location"] == "/admin/events/russia-dprk-treaty"
        page = await http.get("/admin")
        assert page.status_code == 200 and "anna (editor)" in page.text
    await tg_site.publisher.aclose()


@pytest.mark.parametrize(("make", "reason"), [
    (lambda site: telegram_signed("999:another-bots-token", **_fields(site)), "a valid signature of Telegram"),
    (lambda site: {**telegram_signed(TELEGRAM_TOKEN, **_fields(site)), "id": "1"}, "did not carry a valid signature"),
    (lambda site: {k: v for k, v in telegram_signed(TELEGRAM_TOKEN, **_fields(site)).items() if k != "hash"},
     "came back without its signed data"),
    (lambda site: telegram_signed(TELEGRAM_TOKEN, **_fields(site, age=timedelta(minutes=6))), "too old"),
    (lambda site: telegram_signed(TELEGRAM_TOKEN, **_fields(site, age=-timedelta(minutes=5))), "too old"),
    (lambda site: telegram_signed(TELEGRAM_TOKEN, **_fields(site, telegram_id=5)),
     "No dashboard user has this Telegram account (id 5)"),
])
async def test_unsigned_tampered_stale_or_unknown_data_is_refused(tg_site: Site, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    async with https_client(tg_site) as http:
        answer = await http.get("/admin/login/telegram", params=make(tg_site))
        assert answer.status_code == 403 and reason in answer.text
        assert (await http.get("/admin")).status_code == 303
    await tg_site.publisher.aclose()


async def test_without_telegram_login_there_is_no_such_page(site: Site, client: httpx.AsyncClient) -> None:
    answer = await client.get("/admin/login/telegram", params=telegram_signed(TELEGRAM_TOKEN, **_fields(site)))
    assert answer.status_code == 404
    assert "telegram.org" not in (await client.get("/admin/login")).text


def test_telegram_login_without_the_bots_token_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, make_site: SiteFactory, web_env: Path
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__TELEGRAM_LOGIN", "valdai_events_bot")
    with pytest.raises(ValueError, match="telegram_login needs the bot token of the Telegram target 'telegram'"):
        make_site()
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__TELEGRAM_LOGIN", "not a username")
    with pytest.raises(ConfigError, match="telegram_login"):
        load_config(web_env / "config")

"""Checks the data Telegram's Login Widget signs (core.telegram.org/widgets/login#checking-authorization)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Parameters of ours in the widget's return address; Telegram signs only its own fields.
OWN_PARAMETERS = frozenset({"next"})
# A signed-in moment this far in the future is a clock difference, not an attack.
CLOCK_SKEW = timedelta(seconds=60)


class TelegramLoginError(ValueError):
    """The data does not prove a sign-in: unsigned, tampered with, or too old. The text says which."""


@dataclass(frozen=True, kw_only=True)
class TelegramLogin:
    telegram_id: int
    username: str | None
    signed_at: datetime


def check(fields: Mapping[str, str], bot_token: str, now: datetime, max_age: timedelta) -> TelegramLogin:
    """The Telegram account that signed in, once the hash and the age of `fields` check out.

    Telegram's rule: the data-check-string is every received field but `hash`, as `key=value` lines sorted
    by key; the hash is its HMAC-SHA-256, hex, keyed with the SHA-256 of the bot's token."""
    signed = {key: value for key, value in fields.items() if key not in OWN_PARAMETERS}
    given = signed.pop("hash", "")
    if not given or "id" not in signed or "auth_date" not in signed:
        raise TelegramLoginError("the sign-in with Telegram came back without its signed data")
    check_string = "\n".join(f"{key}={signed[key]}" for key in sorted(signed))
    secret = hashlib.sha256(bot_token.encode()).digest()
    expected = hmac.new(secret, check_string.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise TelegramLoginError("the sign-in with Telegram did not carry a valid signature of Telegram")
    try:
        signed_at = datetime.fromtimestamp(int(signed["auth_date"]), UTC)
        telegram_id = int(signed["id"])
    except (ValueError, OverflowError, OSError):
        raise TelegramLoginError("the sign-in with Telegram had a malformed id or date") from None
    if signed_at > now + CLOCK_SKEW or now - signed_at > max_age:
        raise TelegramLoginError("the sign-in with Telegram is too old: sign in again")
    return TelegramLogin(telegram_id=telegram_id, username=signed.get("username"), signed_at=signed_at)

"""Slows failed sign-ins per client address and per account, with growing waits rather than a lock-out.

The rules, and why:
- Each failure makes the next attempt from that address wait longer (1, 2, 4 … s, up to a cap); an attempt
  that comes too soon is refused unchecked. Another address is not affected.
- An account's failures slow only addresses that have failed themselves recently, and not a browser that
  signed in to that account before (the caller's `known_browser`). A clean address is always checked, so
  the organiser's right password still works while an attacker hammers the account, and the attacker,
  once an address has failed, waits on the account's (already long) delay as well.
- An attempt is counted as a failure before its password is checked, and the count is taken back if it was
  right: concurrent guesses from one address thus get one check between them, not one each.
- A success clears neither count (failures are forgotten after `memory` seconds without one), so that signing
  in to one's own account cannot wash an address clean between guesses at another.
State lives in the database: every replica, and a restart, sees the same counts.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.storage.accounts import Accounts, Failures


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """A sign-in allowed to be checked; tell the throttle how it ended with `failed` or `succeeded`."""

    address_key: str
    account_key: str
    before: Failures | None  # the address's record before this attempt was counted against it
    counted: Failures


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """Too soon after a failure: the attempt is not checked."""

    wait: float  # seconds until an attempt may be checked

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.wait))


def address_key(host: str) -> str:
    """The key an address counts under: an IPv6 client gets a whole /64 (one subscriber's usual share)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"addr:{host[:90]}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"addr:{address.ipv4_mapped}"
        return f"addr:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"addr:{address}"


class LoginThrottle:
    def __init__(self, accounts: Accounts, *, delay: float, delay_max: float, memory: float, clock: Clock,
                 key: str = "") -> None:
        self.accounts = accounts
        self.key = key.encode()
        self.delay = delay
        self.delay_max = delay_max
        self.memory = timedelta(seconds=memory)
        self.clock = clock

    def wait_after(self, failures: int) -> timedelta:
        """How long the next attempt waits after `failures` failures in a row."""
        if failures <= 0:
            return timedelta(0)
        return timedelta(seconds=min(self.delay_max, self.delay * 2 ** min(failures - 1, 40)))

    def _live(self, record: Failures | None, now: datetime) -> Failures | None:
        """The record unless it is forgotten (no failure for `memory`)."""
        if record is None or record.last_failure_at + self.memory <= now:
            return None
        return record

    def begin(self, host: str, account: str, *, known_browser: bool = False) -> Attempt | Refusal:
        now = self.clock()
        address = address_key(host)
        # Keyed hash of the name as typed: a password typed into the name field is never stored.
        account_key = "user:" + hmac.new(self.key, account.encode(), hashlib.sha256).hexdigest()[:40]
        before = self.accounts.failures(address)
        live = self._live(before, now)
        if live is not None:
            if live.blocked_until > now:
                return Refusal(wait=(live.blocked_until - now).total_seconds())
            mine = None if known_browser else self._live(self.accounts.failures(account_key), now)
            if mine is not None and mine.blocked_until > now:
                return Refusal(wait=(mine.blocked_until - now).total_seconds())
        failures = (live.failures if live else 0) + 1
        counted = Failures(failures=failures, last_failure_at=now, blocked_until=now + self.wait_after(failures))
        if not self.accounts.swap_failures(address, before, counted):
            # Another attempt from this address is being checked right now.
            return Refusal(wait=self.wait_after(1).total_seconds())
        return Attempt(address_key=address, account_key=account_key, before=before, counted=counted)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: take back the failure counted in advance."""
        self.accounts.swap_failures(attempt.address_key, attempt.counted, attempt.before)

    def failed(self, attempt: Attempt) -> None:
        """The address's failure is counted already; count one against the account too."""
        now = self.clock()
        for _ in range(5):  # concurrent failures on one account: each is counted, none lost
            before = self.accounts.failures(attempt.account_key)
            live = self._live(before, now)
            failures = (live.failures if live else 0) + 1
            after = Failures(failures=failures, last_failure_at=now, blocked_until=now + self.wait_after(failures))
            if self.accounts.swap_failures(attempt.account_key, before, after):
                break
        self.accounts.forget_failures(now - self.memory)

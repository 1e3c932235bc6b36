"""One rule for every adapter: whether a failed request can have reached the platform, and the HTTP answers
every platform shares (429, 5xx), in the bot's own errors."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any

import httpx
import requests
from urllib3 import exceptions as urllib3_errors

from bot.errors import OutcomeUnknown, PublishError, RateLimited, TransientError


class Reach(Enum):
    """How far a failed request got."""

    NOT_SENT = "not sent"  # DNS, connection refused, connect timeout, no free connection: it never left
    MAY_HAVE_ARRIVED = "may have arrived"  # it was (being) sent when the connection failed or the answer was late


@dataclass(frozen=True)
class TransportFailure:
    """A request that failed below HTTP: how far it got, in plain words."""

    reach: Reach
    reason: str
    timed_out: bool = False


# Failures that happen before a byte of the request is written: a retry cannot publish twice.
_NOT_SENT: tuple[tuple[type[BaseException], str], ...] = (
    (httpx.ConnectTimeout, "connecting timed out"),
    (httpx.PoolTimeout, "no free connection in time"),
    (httpx.ConnectError, "the connection failed"),
    (httpx.UnsupportedProtocol, "the address is not http(s)"),
    (requests.ConnectTimeout, "connecting timed out"),
    (urllib3_errors.ConnectTimeoutError, "connecting timed out"),
    (urllib3_errors.NameResolutionError, "the host name does not resolve"),
    (urllib3_errors.NewConnectionError, "the connection failed"),
    (ConnectionRefusedError, "the connection was refused"),
)
# Failures once the request was being written or had been written: the platform may have acted on it.
_MAY_HAVE_ARRIVED: tuple[tuple[type[BaseException], str], ...] = (
    (httpx.ReadTimeout, "no answer in time"),
    (httpx.WriteTimeout, "sending timed out"),
    (httpx.RemoteProtocolError, "the connection was closed without an answer"),
    (httpx.ReadError, "the connection broke while waiting for the answer"),
    (httpx.WriteError, "the connection broke while sending"),
    (requests.ReadTimeout, "no answer in time"),
    (urllib3_errors.ReadTimeoutError, "no answer in time"),
    (requests.exceptions.ChunkedEncodingError, "the answer was cut off"),
    (http.client.RemoteDisconnected, "the connection was closed without an answer"),  # a ConnectionResetError
    (ConnectionResetError, "the connection was reset"),
    (ConnectionAbortedError, "the connection was aborted"),
    (BrokenPipeError, "the connection broke while sending"),
    (urllib3_errors.ProtocolError, "the connection was closed without an answer"),
    (httpx.TransportError, "the connection failed"),
    (requests.ConnectionError, "the connection failed"),
)


def transport_failure(exc: BaseException) -> TransportFailure | None:
    """How far the request behind `exc` got, or None when `exc` is not a network failure.

    The SDKs wrap the transport's exception (PTB in NetworkError/TimedOut, requests in ConnectionError
    around urllib3's MaxRetryError or ProtocolError): the innermost known cause decides. Anything
    unrecognised below a recognised network failure counts as "may have arrived": when unsure, unknown.
    """
    for cause in reversed(list(causes(exc))):  # the innermost cause is the most precise
        for kind, reason in _NOT_SENT:
            if isinstance(cause, kind):
                return TransportFailure(Reach.NOT_SENT, reason, _is_timeout(cause))
        for kind, reason in _MAY_HAVE_ARRIVED:
            if isinstance(cause, kind):
                return TransportFailure(Reach.MAY_HAVE_ARRIVED, reason, _is_timeout(cause))
    return None


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TimeoutException | requests.Timeout | urllib3_errors.TimeoutError | TimeoutError)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: explicit causes, implicit contexts, urllib3's `reason` and requests' args."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner: list[object] = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        if isinstance(current, requests.RequestException | urllib3_errors.HTTPError):
            inner.extend(current.args)
        todo.extend(item for item in inner if isinstance(item, BaseException))


def network_error(
    failure: TransportFailure, *, where: str, platform: str, sending: bool, timeout: float,
    repeat_safe: str | None = None,
) -> PublishError:
    """The bot's error for a request that failed below HTTP.

    `sending` is False for a call that publishes nothing (getMe, an upload): then nothing can have been
    published whatever happened. `repeat_safe`, when given, says why the platform ignores a repeat of this
    publishing call (VK's guid): then an uncertain outcome is simply retried.
    """
    reason = f"{failure.reason}, {timeout:g} s" if failure.timed_out else failure.reason
    if failure.reach is Reach.NOT_SENT:
        return TransientError(f"{where}: cannot reach {platform} ({reason}); nothing was sent")
    if not sending:
        return TransientError(f"{where}: {platform} did not answer ({reason}); nothing was published")
    if repeat_safe is not None:
        return TransientError(f"{where}: {platform} did not answer ({reason}); {repeat_safe}")
    return OutcomeUnknown(
        f"{where}: {platform} did not answer ({reason}); the post may or may not have been published"
    )


def http_error(
    status: int, *, where: str, platform: str, detail: str, retry_after: float | None, default_wait: float,
    default_why: str,
) -> PublishError | None:
    """The error for the HTTP answers every platform shares: 429 (wait as asked, else `default_wait`) and 5xx."""
    if status == 429:
        if retry_after is not None:
            return RateLimited(f"{where}: {platform} answered HTTP 429 and asks to wait {retry_after:g} s",
                               retry_after)
        return RateLimited(
            f"{where}: {platform} answered HTTP 429 without saying how long to wait; "
            f"waiting {default_wait:g} s ({default_why})",
            default_wait,
        )
    if status >= 500:
        return TransientError(f"{where}: {platform} answered HTTP {status} ({detail}); try again later")
    return None


def retry_after_header(value: str | None, now: float) -> float | None:
    """Seconds to wait from an HTTP Retry-After header: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


def json_object(payload: bytes) -> dict[str, Any]:
    """An answer's JSON object, or {} when it is not one (a proxy's HTML page, a truncated body)."""
    try:
        answer = json.loads(payload)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}

"""Logging set-up: one format, and a filter that removes every configured secret, in any encoding, from every record."""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from bot.config.live import LiveConfig

# Fields a delivery's log lines carry (logging's `extra=`), so that one post can be followed in the logs.
CONTEXT_FIELDS = ("event", "kind", "platform", "target", "post")

# Libraries that log signing material or tokens at DEBUG: oauthlib the signature base string and the signed
# Authorization header, requests_oauthlib and tweepy the signed request, PTB and vk_api request URLs and
# parameters (which hold the token). They never log below INFO, whatever the bot's level.
NEVER_DEBUG = ("oauthlib", "requests_oauthlib", "tweepy", "telegram", "vk_api")
# httpx and httpcore log every request URL at INFO, and a Telegram URL contains the bot token.
WARNING_ONLY = ("httpx", "httpcore", "urllib3", "apscheduler.executors.default")

MASK = "***"
_MIN_LENGTH = 4  # shorter "secrets" would mask ordinary words
_MIN_BASE64 = 6  # a base64 fragment of a short secret is too likely to occur by chance


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the delivery's fields, and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({key: getattr(record, key) for key in CONTEXT_FIELDS if hasattr(record, key)})
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def _base64_forms(data: bytes) -> Iterator[str]:
    """`data` in base64 and base64url: alone, and as it shows inside a longer encoded string (e.g. a Basic
    authorization of "key:secret"), where it starts at one of three alignments and its edge characters mix
    with the neighbours' bits: those are left out."""
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        alone = encode(data).decode()
        yield alone
        yield alone.rstrip("=")
        for offset in range(3):
            text = encode(b"\0" * offset + data).decode()
            start, end = -(-8 * offset // 6), 8 * (offset + len(data)) // 6
            if end - start >= _MIN_BASE64:
                yield text[start:end]


def encoded_forms(secret: str) -> set[str]:
    """`secret` as it may appear in a log line: as is; URL-encoded with and without '/' kept, '+' for spaces,
    lower-case hex, and twice (OAuth's signature base string); base64 and base64url; escaped by JSON (ASCII
    or not, '/' as '\\/'), by HTML, and by repr() of the text or of its UTF-8 bytes."""
    forms = {secret}
    for safe in ("", "/"):
        once = quote(secret, safe=safe)
        forms |= {once, quote(once, safe=safe), quote_plus(secret, safe=safe)}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda hex_: hex_.group().lower(), form) for form in set(forms)}
    forms |= set(_base64_forms(secret.encode()))
    for ascii_only in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        forms |= {escaped, escaped.replace("/", "\\/")}
    forms |= {html.escape(secret), html.escape(secret, quote=False)}
    forms |= {repr(secret)[1:-1], ascii(secret)[1:-1], repr(secret.encode())[2:-1]}
    return {form for form in forms if len(form) >= _MIN_LENGTH}


class Redactor(logging.Filter):
    """Replaces secrets, in each of their encoded forms, in a record's message, arguments, traceback and
    stack with '***'. `add` teaches it more (a reload's new token) while records go through it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self._adding = threading.Lock()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Scrub these too, from the next record on. A secret is never forgotten: a token a reload replaced may
        still be valid, and lines about it may still be written."""
        with self._adding:  # two reloads at once: neither's secrets are lost
            known = self.secrets | {s for s in secrets if len(s) >= _MIN_LENGTH}
            if known == self.secrets:
                return
            forms = {form for secret in known for form in encoded_forms(secret)}
            # Longest first: a form containing another is removed whole.
            pattern = re.compile("|".join(map(re.escape, sorted(forms, key=len, reverse=True))))
            # One assignment: a record being filtered meanwhile is scrubbed of the old secrets or of all of them.
            self._pattern, self.secrets = pattern, known

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        for key in CONTEXT_FIELDS:
            if isinstance(value := getattr(record, key, None), str):
                setattr(record, key, self.scrub(value))
        return True


def configure(level: str = "INFO", secrets: Iterable[str] = (), json_lines: bool = False,
              stream: TextIO | None = None) -> Redactor:
    """Log to `stream` (stderr) at `level`, every record scrubbed of `secrets`; chatty libraries held back."""
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # A logger's own level decides for the records it makes, whatever the root's: never below the root's.
    for names, floor in ((NEVER_DEBUG, logging.INFO), (WARNING_ONLY, logging.WARNING)):
        for name in names:
            logging.getLogger(name).setLevel(max(floor, root.level))
    return redactor


def scrub_also(secrets: Iterable[str]) -> None:
    """Every scrubber `configure` installed removes these secrets too, from now on."""
    for handler in logging.getLogger().handlers:
        for scrubber in handler.filters:
            if isinstance(scrubber, Redactor):
                scrubber.add(secrets)


def follow(live: LiveConfig) -> None:
    """Scrub the secrets each reload of `live` brings (a new token in the environment or a file, a new target)
    before the new configuration is in use: a line logged with it can no longer hold one in clear."""
    live.subscribe(lambda _old, new: scrub_also(new.settings.all_secrets()), before=True)

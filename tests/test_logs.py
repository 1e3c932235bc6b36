"""Logging: JSON lines carry a delivery's fields, and no configured secret survives into any line."""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from pydantic import SecretStr

from bot.adapters.x import XAdapter
from bot.config import load_config
from bot.config.settings import XTarget
from bot.domain import RenderedPost
from bot.errors import CredentialsError
from bot.logs import NEVER_DEBUG, WARNING_ONLY, JsonFormatter, Redactor, configure
from bot.runtime import Runtime
from tests.fakes.x import FakeX


def emit(record_args: dict[str, object], *, secrets: list[str]) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Redactor(secrets))
    logger = logging.getLogger("test.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        raise RuntimeError("request to https://api.telegram.org/bot123:SECRET-token/sendMessage failed")
    except RuntimeError:
        logger.warning("send failed with token %s", "123:SECRET-token", exc_info=True, extra=record_args)
    return stream.getvalue()


def test_json_line_carries_the_delivery_fields() -> None:
    line = emit({"event": "russia-dprk-treaty", "kind": "live", "platform": "telegram", "target": "telegram_ru"},
                secrets=[])
    data = json.loads(line)
    assert data["level"] == "WARNING" and data["logger"] == "test.logs"
    assert (data["event"], data["kind"], data["platform"], data["target"]) == (
        "russia-dprk-treaty", "live", "telegram", "telegram_ru")
    assert "RuntimeError" in data["traceback"]


def test_secrets_are_scrubbed_from_message_and_traceback() -> None:
    line = emit({"event": "e"}, secrets=["123:SECRET-token"])
    assert "SECRET" not in line
    data = json.loads(line)
    assert data["message"] == "send failed with token ***"
    assert "/bot***/sendMessage" in data["traceback"]


# -- secrets in every encoding ---------------------------------------------------------------------------------

# Characters every encoding changes: ':' '/' '+' '=' '&' for URLs, '<' '"' "'" for HTML, JSON and repr, '\\' for
# JSON and repr, a space for '+'-encoding, non-ASCII for all of them; "~>?" puts '+' and '/' in its base64.
MARKER = "ck:MARKER/é+=&<\"' \\ü-ключ~>?"


def independent_encodings(secret: str) -> dict[str, str]:
    """How a library may write `secret`, computed here without bot.logs (the scrubber must match each)."""
    raw = secret.encode()
    forms = {
        "raw": secret,
        "url, nothing safe": quote(secret, safe=""),
        "url, '/' safe": quote(secret),
        "url, lower-case hex": quote(secret, safe="").lower().replace("marker", "MARKER"),
        "url, '+' for spaces": quote_plus(secret),
        "url, twice (OAuth base string)": quote(quote(secret, safe=""), safe=""),
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode(),
        "json": json.dumps(secret)[1:-1],
        "json, unicode kept": json.dumps(secret, ensure_ascii=False)[1:-1],
        "html": html.escape(secret),
        "repr": repr(secret)[1:-1],
        "ascii": ascii(secret)[1:-1],
        "repr of bytes": repr(raw)[2:-1],
    }
    return forms


def test_the_marker_is_changed_by_every_encoding() -> None:
    forms = independent_encodings(MARKER)
    assert all(form != MARKER for name, form in forms.items() if name != "raw"), forms
    assert len(set(forms.values())) == len(forms)


@pytest.mark.parametrize("name", list(independent_encodings(MARKER)))
def test_every_encoding_of_a_secret_is_scrubbed_from_message_args_traceback_and_stack(name: str) -> None:
    form = independent_encodings(MARKER)[name]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Redactor([MARKER]))
    logger = logging.getLogger("test.logs.encodings")
    logger.handlers[:] = [handler]
    logger.propagate = False
    try:
        raise RuntimeError(f"POST https://api.example.org/?key={form} failed")
    except RuntimeError:
        logger.error("in the message: %s; in an argument:", f"[{form}]", exc_info=True, stack_info=True)
    logger.warning(f"in the format string: {form}", extra={"target": f"x-{form}"})
    text = stream.getvalue()
    values = [str(value) for line in text.splitlines() for value in json.loads(line).values()]
    assert form not in text and not [value for value in values if form in value]  # as written, and as read back
    assert text.count("***") == 4  # in the argument, the traceback, the format string and the extra field


def test_base64_of_a_secret_inside_a_longer_value_is_scrubbed() -> None:
    """X's app-only token exchange sends base64("key:secret"): the secret sits at any alignment in it."""
    redactor = Redactor([MARKER])
    for prefix in ("", "a", "ab", "abc"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            basic = encode(f"{prefix}{MARKER}:tail".encode()).decode()
            scrubbed = redactor.scrub(f"Authorization: Basic {basic}")
            # At most the edge characters, which mix the neighbours' bits with the secret's, remain.
            assert len(scrubbed.replace("Authorization: Basic ", "").replace("***", "")) <= len(basic) // 3
            assert "***" in scrubbed, (prefix, scrubbed)


def test_the_scrubber_leaves_other_text_alone() -> None:
    redactor = Redactor([MARKER, "abc"])  # a 3-character "secret" would mask ordinary words: ignored
    text = "sent announcement to telegram: https://t.me/valdaiclub/101 (abc)"
    assert redactor.scrub(text) == text


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = (*NEVER_DEBUG, *WARNING_ONLY, "requests_oauthlib.oauth1_auth", "oauthlib.oauth1.rfc5849")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR"])
def test_signing_libraries_never_log_at_debug_and_never_more_than_the_root(restore_logging: None, level: str) -> None:
    configure(level, [MARKER], stream=io.StringIO())
    root = logging.getLogger().level
    for name in (*NEVER_DEBUG, "oauthlib.oauth1.rfc5849", "requests_oauthlib.oauth1_auth", "telegram.ext.Updater"):
        assert logging.getLogger(name).getEffectiveLevel() == max(logging.INFO, root), name
    for name in WARNING_ONLY:
        assert logging.getLogger(name).getEffectiveLevel() == max(logging.WARNING, root), name


X_MARKERS = {
    "consumer_key": MARKER,
    "consumer_secret": "cs/SECRET+=&é:",
    "access_token": "1234-at:SECRET/ü+=&",
    "access_token_secret": "ats:SECRET&/+=é",
}


async def _tweet_at_debug(stream: io.StringIO, secrets: list[str], render: Callable[..., RenderedPost]) -> str:
    """Drive the real tweepy through the X adapter against the fake X, with every library logging at DEBUG."""
    configure("DEBUG", secrets, stream=stream)
    # As if a library logged past the level floor: the scrubber alone must then catch every form.
    for name in (*NEVER_DEBUG, *WARNING_ONLY):
        logging.getLogger(name).setLevel(logging.DEBUG)
    fake = FakeX(**X_MARKERS).start()
    adapter = XAdapter("x", XTarget(platform="x", username="valdaiclub", api_base_url=fake.base_url, timeout=5,
                                    **{key: SecretStr(value) for key, value in X_MARKERS.items()}))
    try:
        post = render("announcement", "x", "en")
        receipt = await adapter.publish(post)
        assert len(fake.tweets) == len(post.parts) and receipt.post_id == fake.tweets[0].id  # signatures held
        fake.unauthorized()
        try:
            await adapter.publish(post)
        except CredentialsError:
            logging.getLogger("bot.test").exception("publishing failed")
    finally:
        await adapter.aclose()
        fake.stop()
    return stream.getvalue()


async def test_tweepy_at_debug_leaks_no_form_of_any_x_secret(restore_logging: None,
                                                             render: Callable[..., RenderedPost]) -> None:
    output = await _tweet_at_debug(io.StringIO(), list(X_MARKERS.values()), render)
    assert "Signing: signature base string" in output and "oauth_consumer_key" in output  # the lines were there
    captured = output.encode()
    for key, secret in X_MARKERS.items():
        for name, form in independent_encodings(secret).items():
            assert form.encode() not in captured, f"{key} appears {name}: {form}"


async def test_without_the_secrets_the_same_run_shows_their_encoded_forms(restore_logging: None,
                                                                          render: Callable[..., RenderedPost]) -> None:
    """The check above can fail: unscrubbed, oauthlib's lines hold the key URL-encoded and twice encoded."""
    output = await _tweet_at_debug(io.StringIO(), [], render)
    forms = independent_encodings(MARKER)
    assert forms["url, nothing safe"] in output and forms["url, twice (OAuth base string)"] in output


async def test_at_the_default_floor_oauthlib_says_nothing(restore_logging: None,
                                                          render: Callable[..., RenderedPost]) -> None:
    stream = io.StringIO()
    configure("DEBUG", list(X_MARKERS.values()), stream=stream)
    fake = FakeX(**X_MARKERS).start()
    adapter = XAdapter("x", XTarget(platform="x", api_base_url=fake.base_url, timeout=5,
                                    **{key: SecretStr(value) for key, value in X_MARKERS.items()}))
    try:
        await adapter.publish(render("announcement", "x", "en"))
    finally:
        await adapter.aclose()
        fake.stop()
    logging.getLogger("bot.test").debug("the bot's own DEBUG lines still show")
    output = stream.getvalue()
    assert "the bot's own DEBUG lines still show" in output
    assert "oauthlib" not in output and "oauth_signature" not in output and "DEBUG tweepy" not in output


# -- secrets a reload brings ------------------------------------------------------------------------------------

RELOADED = {  # each only in the configuration a reload brings (lower case: see "url, lower-case hex")
    "a token in the environment": MARKER,
    "a token file": "vk:secret/ü+=&<token file>~>?",
    "a new target's token": "max-secret+é/=&\"token'",
}


async def test_a_secret_only_a_reload_brought_never_reaches_the_logs_in_any_encoding(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    config = load_config(Path("config"))
    stream = io.StringIO()
    configure("INFO", config.settings.all_secrets(), json_lines=True, stream=stream)  # as the CLI does at start
    runtime = Runtime.build(config, notify=False)
    log = logging.getLogger("bot.test.reload")
    log.warning("before the reload: %s", MARKER)
    assert MARKER in json.loads(stream.getvalue().splitlines()[-1])["message"]  # not a secret yet: this can fail

    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN", RELOADED["a token in the environment"])
    (workdir / "vk-token").write_text(RELOADED["a token file"] + "\n", encoding="utf-8")
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__MAX__TOKEN", RELOADED["a new target's token"])
    settings = workdir / "config" / "settings.toml"
    settings.write_text(settings.read_text().replace("group_id = 89190013\n",
                                                     'group_id = 89190013\ntoken_file = "vk-token"\n')
                        + '\n[targets.max]\nplatform = "max"\nlang = "ru"\nchat_id = "-72000000001"\n')
    result = await runtime.operations.reload()
    assert result.ok, result.message
    stream.seek(0)
    stream.truncate()
    lines = 0
    for what, secret in RELOADED.items():
        for name, form in independent_encodings(secret).items():
            log.warning("%s, %s: %s", what, name, form)
            lines += 1
    output = stream.getvalue()
    for what, secret in RELOADED.items():
        for name, form in independent_encodings(secret).items():
            assert form not in output, f"{what} appears {name}"
    ours = [json.loads(line)["message"] for line in output.splitlines() if '"bot.test.reload"' in line]
    assert len(ours) == lines and all(message.endswith(": ***") for message in ours)
    await runtime.aclose()


def test_a_scrubber_taught_more_secrets_keeps_the_old_ones() -> None:
    redactor = Redactor(["old-SECRET-token"])
    redactor.add(["new-SECRET-token"])  # a reload replaced the token: the old one may still be valid
    assert redactor.scrub("old-SECRET-token new-SECRET-token") == "*** ***"

"""Logging: JSON lines carry a delivery's fields, and no configured secret survives into any line."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import JsonFormatter, Redactor


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

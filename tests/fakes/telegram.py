"""A fake Telegram Bot API server: checks what a bot sends as Telegram would and answers as Telegram does."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import replace
from typing import Any

from bot.platforms import telegram_length, visible_text
from bot.rendering.markup import telegram_html_problems
from tests.fakes.base import FakeServer, Reply, Request

_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")
_CHAT_METHODS = frozenset({"sendMessage", "sendPhoto", "editMessageText", "pinChatMessage", "unpinChatMessage"})
TEXT_LIMIT = 4096  # core.telegram.org/bots/api#sendmessage: 1-4096 characters after entities parsing
CAPTION_LIMIT = 1024  # core.telegram.org/bots/api#sendphoto: 0-1024 characters after entities parsing


def error(code: int, description: str, **parameters: Any) -> Reply:
    """An error answer in the Bot API's own shape."""
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Reply(status=code, body=body)


class FakeTelegram(FakeServer):
    """Answers `/bot<token>/<method>` for getMe, sendMessage, sendPhoto, editMessageText, (un)pinChatMessage.

    `messages` holds every message the fake accepted, in order: method, chat_id, message_id, text or
    caption (as sent, with markup), photo, parse_mode, reply_to, link_preview (the url asked for),
    link_preview_disabled. Faults: `fail_next(reply)` answers the next request of any method,
    `fail_method(method, reply)` the next request of one method; the static methods build Telegram's
    own error answers.
    """

    def __init__(
        self,
        token: str,
        chat_id: str = "@valdaiclub",
        chat_numeric_id: int = -1001234567890,
        title: str = "Valdai Club",
    ) -> None:
        super().__init__()
        self.token = token
        self.chat_id = chat_id
        self.chat = {"id": chat_numeric_id, "type": "channel", "title": title}
        if chat_id.startswith("@"):
            self.chat["username"] = chat_id[1:]
        self.messages: list[dict[str, Any]] = []
        self.pinned: list[int] = []
        self._next_id = 100
        self._answers: dict[int, dict[str, Any]] = {}
        self._method_faults: defaultdict[str, deque[Reply | None]] = defaultdict(deque)  # None: answer
        self._state = threading.Lock()

    # -- Telegram's own error answers --------------------------------------------------------------

    @staticmethod
    def rate_limited(retry_after: int = 5) -> Reply:
        return error(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    @staticmethod
    def too_long() -> Reply:
        return error(400, "Bad Request: message is too long")

    @staticmethod
    def kicked() -> Reply:
        return error(403, "Forbidden: bot was kicked from the channel chat")

    @staticmethod
    def unauthorized() -> Reply:
        return error(401, "Unauthorized")

    @staticmethod
    def server_error() -> Reply:
        return error(500, "Internal Server Error")

    @staticmethod
    def migrated(new_chat_id: int) -> Reply:
        return error(
            400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=new_chat_id
        )

    @staticmethod
    def slow(seconds: float) -> Reply:
        """The real answer, `seconds` late (the client should have given up by then)."""
        return Reply(delay=seconds)

    @staticmethod
    def dropped() -> Reply:
        return Reply(drop=True)

    def fail_method(self, method: str, reply: Reply, times: int = 1, after: int = 0) -> None:
        """Answer `times` calls of `method` (e.g. "sendMessage") with `reply`, after `after` normal ones."""
        with self._state:
            self._method_faults[method].extend([None] * after + [reply] * times)

    # -- what the fake saw ---------------------------------------------------------------------------

    def calls(self, method: str) -> list[Request]:
        """Requests made to `method`, whatever their answer."""
        return [r for r in self.requests if (m := _PATH.match(r.path)) and m["method"] == method]

    # -- the API -------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        match = _PATH.match(request.path)
        if match is None:
            return error(404, "Not Found")
        if match["token"] != self.token:
            return self.unauthorized()
        method = match["method"]
        with self._state:
            queued = self._method_faults.get(method)
            fault = queued.popleft() if queued else None
        if fault is not None:
            if fault.body is None and not fault.drop:  # a late answer: the real one, delayed
                return replace(self._answer(method, request.params), delay=fault.delay)
            return fault
        return self._answer(method, request.params)

    def _answer(self, method: str, params: dict[str, Any]) -> Reply:
        if method == "getMe":
            return _ok({"id": 123456, "is_bot": True, "first_name": "Announce", "username": "announce_test_bot"})
        if method in _CHAT_METHODS and str(params.get("chat_id")) not in (self.chat_id, str(self.chat["id"])):
            return error(400, "Bad Request: chat not found")
        if method == "sendMessage":
            return self._send(params, "text", TEXT_LIMIT)
        if method == "sendPhoto":
            if not params.get("photo"):
                return error(400, "Bad Request: there is no photo in the request")
            return self._send(params, "caption", CAPTION_LIMIT)
        if method == "editMessageText":
            return self._edit(params)
        if method == "pinChatMessage":
            with self._state:
                self.pinned.append(int(params.get("message_id", 0)))
            return _ok(True)
        if method == "unpinChatMessage":
            with self._state:
                if self.pinned:
                    self.pinned.pop()
            return _ok(True)
        return error(404, "Not Found")

    def _check_text(self, params: dict[str, Any], field: str, limit: int) -> Reply | None:
        text = str(params.get(field, ""))
        if params.get("parse_mode") != "HTML":
            # Telegram would publish the tags literally; every post of this bot is HTML.
            return error(400, f"Bad Request: the fake expects parse_mode HTML, got {params.get('parse_mode')!r}")
        if field == "text" and not text.strip():
            return error(400, "Bad Request: message text is empty")
        problems = telegram_html_problems(text)
        if problems:
            return error(400, f"Bad Request: can't parse entities: {problems[0]}")
        if telegram_length(text) > limit:
            return error(400, "Bad Request: message caption is too long" if field == "caption"
                         else "Bad Request: message is too long")
        return None

    def _send(self, params: dict[str, Any], field: str, limit: int) -> Reply:
        problem = self._check_text(params, field, limit)
        if problem is not None:
            return problem
        reply_to = _json(params.get("reply_parameters")).get("message_id")
        preview = _json(params.get("link_preview_options"))
        with self._state:
            if reply_to is not None and int(reply_to) not in self._answers:
                return error(400, "Bad Request: message to be replied not found")
            self._next_id += 1
            message_id = self._next_id
            record: dict[str, Any] = {
                "method": "sendMessage" if field == "text" else "sendPhoto",
                "chat_id": params["chat_id"],
                "message_id": message_id,
                field: params[field],
                "parse_mode": params.get("parse_mode"),
                "reply_to": int(reply_to) if reply_to is not None else None,
                "link_preview": preview.get("url"),
                "link_preview_disabled": bool(preview.get("is_disabled", False)),
            }
            answer: dict[str, Any] = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": dict(self.chat),
                "sender_chat": dict(self.chat),
                # Telegram answers with the visible text; the markup comes back as entities (left out).
                field: visible_text(params[field]),
            }
            if field == "caption":
                record["photo"] = params["photo"]
                answer["photo"] = [
                    {"file_id": f"photo-{message_id}-s", "file_unique_id": f"u{message_id}s", "width": 320,
                     "height": 180, "file_size": 12000},
                    {"file_id": f"photo-{message_id}-m", "file_unique_id": f"u{message_id}m", "width": 1280,
                     "height": 720, "file_size": 96000},
                ]
            if reply_to is not None:
                answer["reply_to_message"] = self._answers[int(reply_to)]
            self.messages.append(record)
            self._answers[message_id] = answer
        return _ok(answer)

    def _edit(self, params: dict[str, Any]) -> Reply:
        problem = self._check_text(params, "text", TEXT_LIMIT)
        if problem is not None:
            return problem
        message_id = int(params.get("message_id", 0))
        with self._state:
            if message_id not in self._answers:
                return error(400, "Bad Request: message to edit not found")
            for record in self.messages:
                if record["message_id"] == message_id:
                    record["text"] = params["text"]
            answer = {**self._answers[message_id], "text": visible_text(params["text"]),
                      "edit_date": int(time.time())}
            self._answers[message_id] = answer
        return _ok(answer)


def _ok(result: Any) -> Reply:
    return Reply(body={"ok": True, "result": result})


def _json(value: Any) -> dict[str, Any]:
    """A JSON-object form field (PTB sends nested objects as JSON strings in form-encoded bodies)."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    decoded = json.loads(value)
    return decoded if isinstance(decoded, dict) else {}

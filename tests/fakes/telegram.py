"""A fake Telegram Bot API server: checks what a bot sends as Telegram would and answers as Telegram does."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes import base
from tests.fakes.base import FakeServer, Reply, Request
from tests.fakes.telegram_html import MarkupError, parse, utf16_length

_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")
_CHAT_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageCaption",
                           "editMessageReplyMarkup",
                           "pinChatMessage", "unpinChatMessage"})
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Announce", "username": "announce_test_bot"}
MAX_POLL = 2.0  # a getUpdates long poll waits at most this long here, whatever `timeout` it asks for
TEXT_LIMIT = 4096  # core.telegram.org/bots/api#sendmessage: 1-4096 characters after entities parsing
CAPTION_LIMIT = 1024  # core.telegram.org/bots/api#sendphoto: 0-1024 characters after entities parsing


def error(code: int, description: str, **parameters: Any) -> Reply:
    """An error answer in the Bot API's own shape."""
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Reply(status=code, body=body)


@dataclass(frozen=True)
class User:
    """A Telegram user who writes to the bot."""

    id: int
    first_name: str = "Anna"
    language_code: str | None = "en"
    username: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            data["language_code"] = self.language_code
        if self.username:
            data["username"] = self.username
        return data

    @property
    def chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": "private", "first_name": self.first_name}


class FakeTelegram(FakeServer):
    """Answers `/bot<token>/<method>` for getMe, sendMessage, sendPhoto, editMessageText/Caption, (un)pinChatMessage.

    `messages` holds every message the fake accepted, in order: method, chat_id, message_id, text or
    caption (as sent, with markup), photo, parse_mode, reply_to, link_preview (the url asked for),
    link_preview_disabled. Faults: `fail_next(reply)` answers the next request of any method,
    `fail_method(method, reply)` the next request of one method; the static methods build Telegram's
    own error answers.

    As a chat bot's counterpart it also serves updates: tests queue them with `send` (a user's message),
    `edit` (an edited message), `press` (a button) or `inject` (anything), and the bot takes them with
    getUpdates (offset confirms, `timeout` long-polls up to MAX_POLL s); setWebhook makes getUpdates answer
    409 as Telegram does. Private chats (positive ids) exist as soon as they are written to, unless the
    user `blocked` the bot (403); groups are made with `group()`. `documents`, `callback_answers`,
    `commands` and `webhook` record the rest; `wait_messages()` waits for the bot's replies.
    With `enforce_limits`, more than `global_rate` messages in a second or two in one chat within
    `chat_interval` seconds get a 429, as Telegram would; a message sent with allow_paid_broadcast does not
    count against `global_rate` but against `paid_rate` (1000 a second, all messages counted). Every
    message is stamped with `clock()` as it arrives (a test may pass its virtual clock).
    """

    def __init__(
        self,
        token: str,
        chat_id: str = "@valdaiclub",
        chat_numeric_id: int = -1001234567890,
        title: str = "Valdai Club",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.clock = clock
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
        self._state = threading.RLock()  # re-entrant: wait_until checks call in_chat() under it
        # -- the chat bot side
        self._changed = threading.Condition(self._state)  # notified on every new update or message
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._closing = False
        self.groups: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.documents: list[dict[str, Any]] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] = {}
        self.enforce_limits = False
        self.global_rate = 30
        # core.telegram.org/bots/api#sendmessage, allow_paid_broadcast: "up to 1000 messages per second".
        self.paid_rate = 1000
        self.chat_interval = 1.0
        self.limit_hits = 0
        # core.telegram.org/bots/api#getupdates, allowed_updates: "Specify an empty list to receive all update types
        # except chat_member, message_reaction, and message_reaction_count (default). If not specified, the previous
        # setting will be used." None: never set.
        self.allowed_updates: list[str] | None = None
        self._recent: deque[float] = deque()  # unpaid messages
        self._recent_all: deque[float] = deque()
        self._last_in_chat: dict[str, float] = {}

    # -- Telegram's own error answers --------------------------------------------------------------

    @staticmethod
    def rate_limited(retry_after: int = 5) -> Reply:
        return error(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    @staticmethod
    def rate_limited_without_retry_after() -> Reply:
        """A 429 without `parameters.retry_after` (a proxy, or a self-hosted Bot API server in front)."""
        return error(429, "Too Many Requests")

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
    def server_error(code: int = 500, description: str = "Internal Server Error") -> Reply:
        return error(code, description)

    @staticmethod
    def migrated(new_chat_id: int) -> Reply:
        return error(
            400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=new_chat_id
        )

    @staticmethod
    def slow(seconds: float) -> Reply:
        """The message is sent, and the real answer comes `seconds` late (the client should have given up)."""
        return base.late(seconds)

    @staticmethod
    def dropped() -> Reply:
        """The connection closes without an answer; Telegram did not act on the request."""
        return base.dropped()

    @staticmethod
    def record_then_drop() -> Reply:
        """Telegram sends the message, then the connection closes without an answer."""
        return base.record_then_drop()

    @staticmethod
    def reset() -> Reply:
        return base.reset()

    @staticmethod
    def record_then_reset() -> Reply:
        return base.record_then_reset()

    def fail_method(self, method: str, reply: Reply, times: int = 1, after: int = 0) -> None:
        """Answer `times` calls of `method` (e.g. "sendMessage") with `reply`, after `after` normal ones."""
        with self._state:
            self._method_faults[method].extend([None] * after + [reply] * times)

    def fail_call(self, method: str, call: int, reply: Reply) -> None:
        """Answer the call-th call of `method` from now (1 = the next) with `reply`, whatever else is queued."""
        with self._state:
            queued = self._method_faults[method]
            queued.extend([None] * (call - len(queued)))
            queued[call - 1] = reply

    # -- what the fake saw ---------------------------------------------------------------------------

    def calls(self, method: str) -> list[Request]:
        """Requests made to `method`, whatever their answer."""
        return [r for r in self.requests if (m := _PATH.match(r.path)) and m["method"] == method]

    # -- the API -------------------------------------------------------------------------------------

    def fault_for(self, request: Request) -> Reply | None:
        match = _PATH.match(request.path)
        if match is None or match["token"] != self.token:
            return None
        with self._state:
            queued = self._method_faults.get(match["method"])
            return queued.popleft() if queued else None

    def handle(self, request: Request) -> Reply:
        if request.path == "/control/ask":
            return self._control_ask(request.params)
        if request.path == "/control/limits":  # {enforce, global_rate, chat_interval}
            with self._state:
                self.enforce_limits = bool(request.params.get("enforce", True))
                self.global_rate = int(request.params.get("global_rate", self.global_rate))
                self.chat_interval = float(request.params.get("chat_interval", self.chat_interval))
            return _ok(True)
        if request.path == "/control/received":  # what arrived: [chat_id, time] per message, and the 429s
            with self._state:
                return _ok({"messages": [[m["chat_id"], m["time"]] for m in self.messages],
                            "limit_hits": self.limit_hits})
        match = _PATH.match(request.path)
        if match is None:
            return error(404, "Not Found")
        if match["token"] != self.token:
            return self.unauthorized()
        method = match["method"]
        # Stamped on arrival, with the clock the test drives (a late answer is delayed after this).
        params = {**request.params, "__time": self.clock()}
        if method == "sendDocument":
            params = {**params, "__filename": _upload_name(request, "document")}
        return self._answer(method, params)

    def _answer(self, method: str, params: dict[str, Any]) -> Reply:
        if method == "getMe":
            return _ok(dict(BOT_USER))
        if method == "getUpdates":
            return self._get_updates(params)
        if method in ("setWebhook", "deleteWebhook", "getWebhookInfo"):
            return self._webhook(method, params)
        if method == "answerCallbackQuery":
            with self._state:
                self.callback_answers.append(dict(params))
                self._changed.notify_all()
            return _ok(True)
        if method in ("setMyCommands", "deleteMyCommands"):
            with self._state:
                commands = json.loads(params.get("commands") or "[]") if method == "setMyCommands" else []
                self.commands[str(params.get("language_code") or "")] = commands
            return _ok(True)
        if method in _CHAT_METHODS:
            chat_id = str(params.get("chat_id"))
            if chat_id in (self.chat_id, str(self.chat["id"])):
                pass
            elif chat_id.lstrip("-").isdigit() and int(chat_id) in self.blocked:
                return error(403, "Forbidden: bot was blocked by the user")
            elif self._chat(chat_id) is None:
                return error(400, "Bad Request: chat not found")
            if method.startswith("send") and (limited := self._over_limit(chat_id, params)) is not None:
                return limited
        if method == "sendMessage":
            return self._send(params, "text", TEXT_LIMIT)
        if method == "sendDocument":
            return self._document(params)
        if method == "editMessageReplyMarkup":
            return self._edit_markup(params)
        if method == "sendPhoto":
            if not params.get("photo"):
                return error(400, "Bad Request: there is no photo in the request")
            return self._send(params, "caption", CAPTION_LIMIT)
        if method == "editMessageText":
            return self._edit(params, "text", TEXT_LIMIT)
        if method == "editMessageCaption":
            return self._edit(params, "caption", CAPTION_LIMIT)
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

    def _check_text(self, params: dict[str, Any], field: str, limit: int) -> Reply | str:
        """Telegram's refusal of `params[field]`, or the text a reader sees of it."""
        text = str(params.get(field, ""))
        if params.get("parse_mode") != "HTML":
            # Telegram would publish the tags literally; every post of this bot is HTML.
            return error(400, f"Bad Request: the fake expects parse_mode HTML, got {params.get('parse_mode')!r}")
        try:
            visible = parse(text)
        except MarkupError as problem:
            return error(400, f"Bad Request: can't parse entities: {problem}")
        if field == "text" and not visible.strip():
            return error(400, "Bad Request: message text is empty")
        if utf16_length(visible) > limit:
            return error(400, "Bad Request: message caption is too long" if field == "caption"
                         else "Bad Request: message is too long")
        return visible

    def _send(self, params: dict[str, Any], field: str, limit: int) -> Reply:
        visible = self._check_text(params, field, limit)
        if isinstance(visible, Reply):
            return visible
        reply_to = _json(params.get("reply_parameters")).get("message_id")
        preview = _json(params.get("link_preview_options"))
        markup = _json(params.get("reply_markup")) or None
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
                "reply_markup": markup,
                "time": params["__time"],
            }
            answer = self._message_answer(str(params["chat_id"]), message_id)
            # Telegram answers with the visible text; the markup comes back as entities (left out).
            answer[field] = visible
            if markup:
                answer["reply_markup"] = markup
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
            self._changed.notify_all()
        return _ok(answer)

    def _edit(self, params: dict[str, Any], field: str, limit: int) -> Reply:
        visible = self._check_text(params, field, limit)
        if isinstance(visible, Reply):
            return visible
        message_id = int(params.get("message_id", 0))
        markup = _json(params.get("reply_markup")) or None
        with self._state:
            if message_id not in self._answers:
                return error(400, "Bad Request: message to edit not found")
            before = self._answers[message_id]
            if (field == "caption") != ("photo" in before):
                return error(400, "Bad Request: there is no caption in the message to edit" if field == "caption"
                             else "Bad Request: there is no text in the message to edit")
            if before.get(field) == visible and before.get("reply_markup") == markup:
                return error(400, "Bad Request: message is not modified: specified new message content and reply "
                                  "markup are exactly the same as a current content and reply markup of the message")
            for record in self.messages:
                if record["message_id"] == message_id:
                    record[field] = params[field]
                    record["reply_markup"] = markup
                    record["edits"] = record.get("edits", 0) + 1
            answer = {**before, field: visible, "edit_date": int(time.time())}
            answer.pop("reply_markup", None)
            if markup:
                answer["reply_markup"] = markup
            self._answers[message_id] = answer
            self._changed.notify_all()
        return _ok(answer)

    def _edit_markup(self, params: dict[str, Any]) -> Reply:
        message_id = int(params.get("message_id", 0))
        markup = _json(params.get("reply_markup")) or None
        with self._state:
            if message_id not in self._answers:
                return error(400, "Bad Request: message to edit not found")
            if self._answers[message_id].get("reply_markup") == markup:
                return error(400, "Bad Request: message is not modified")
            for record in self.messages:
                if record["message_id"] == message_id:
                    record["reply_markup"] = markup
                    record["edits"] = record.get("edits", 0) + 1
            answer = {**self._answers[message_id], "edit_date": int(time.time())}
            answer.pop("reply_markup", None)
            if markup:
                answer["reply_markup"] = markup
            self._answers[message_id] = answer
            self._changed.notify_all()
        return _ok(answer)

    def _document(self, params: dict[str, Any]) -> Reply:
        document = params.get("document")
        if not isinstance(document, bytes) or not document:
            return error(400, "Bad Request: there is no document in the request")
        caption = str(params.get("caption", ""))
        try:
            shown = parse(caption)
        except MarkupError as problem:
            return error(400, f"Bad Request: can't parse entities: {problem}")
        if utf16_length(shown) > CAPTION_LIMIT:
            return error(400, "Bad Request: message caption is too long")
        with self._state:
            self._next_id += 1
            message_id = self._next_id
            name = str(params.get("__filename") or "document")
            record = {"method": "sendDocument", "chat_id": params["chat_id"], "message_id": message_id,
                      "document": document, "filename": name, "caption": caption,
                      "parse_mode": params.get("parse_mode"), "time": params["__time"], "reply_markup": None}
            answer = self._message_answer(str(params["chat_id"]), message_id)
            answer["document"] = {"file_id": f"doc-{message_id}", "file_unique_id": f"d{message_id}",
                                  "file_name": name, "file_size": len(document)}
            if caption:
                answer["caption"] = shown
            self.documents.append(record)
            self.messages.append(record)
            self._answers[message_id] = answer
            self._changed.notify_all()
        return _ok(answer)

    # -- chats, limits, updates and webhooks ----------------------------------------------------------

    def _chat(self, chat_id: str) -> dict[str, Any] | None:
        if chat_id in (self.chat_id, str(self.chat["id"])):
            return self.chat
        if not chat_id.lstrip("-").isdigit():
            return None
        number = int(chat_id)
        if number > 0:
            return {"id": number, "type": "private", "first_name": f"user{number}"}
        return self.groups.get(number)

    def _message_answer(self, chat_id: str, message_id: int) -> dict[str, Any]:
        chat = self._chat(chat_id) or dict(self.chat)
        answer: dict[str, Any] = {"message_id": message_id, "date": int(time.time()), "chat": dict(chat)}
        if chat is self.chat:
            answer["sender_chat"] = dict(self.chat)
        else:
            answer["from"] = dict(BOT_USER)
        return answer

    def _over_limit(self, chat_id: str, params: dict[str, Any]) -> Reply | None:
        if not self.enforce_limits:
            return None
        now = float(params["__time"])
        paid = str(params.get("allow_paid_broadcast")).lower() == "true"
        with self._state:
            for recent in (self._recent, self._recent_all):
                while recent and recent[0] <= now - 1.0:
                    recent.popleft()
            last = self._last_in_chat.get(chat_id)
            if (not paid and len(self._recent) >= self.global_rate) or len(self._recent_all) >= self.paid_rate or (
                    last is not None and now - last < self.chat_interval):
                self.limit_hits += 1
                return self.rate_limited(1)
            if not paid:
                self._recent.append(now)
            self._recent_all.append(now)
            self._last_in_chat[chat_id] = now
        return None

    def _get_updates(self, params: dict[str, Any]) -> Reply:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        wait = min(float(params.get("timeout") or 0), MAX_POLL)
        deadline = time.monotonic() + wait
        with self._state:
            if self.webhook.get("url"):
                return error(409, "Conflict: can't use getUpdates method while webhook is active; "
                                  "use deleteWebhook to delete the webhook first")
            if "allowed_updates" in params:
                self.allowed_updates = list(json.loads(params["allowed_updates"] or "[]"))
            while True:
                # An update of a kind the bot did not ask for is never made for it.
                self._updates = [u for u in self._updates if self._wanted(u)]
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or self._closing or time.monotonic() >= deadline:
                    return _ok(self._updates[:limit])
                self._changed.wait(deadline - time.monotonic())

    def _wanted(self, update: dict[str, Any]) -> bool:
        kind = next(key for key in update if key != "update_id")
        if not self.allowed_updates:
            return kind not in ("chat_member", "message_reaction", "message_reaction_count")
        return kind in self.allowed_updates

    def _webhook(self, method: str, params: dict[str, Any]) -> Reply:
        with self._state:
            if method == "setWebhook":
                url = str(params.get("url") or "")
                if url and not url.startswith("https://"):
                    return error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
                self.webhook = {"url": url, "secret_token": params.get("secret_token"),
                                "allowed_updates": params.get("allowed_updates")}
                return _ok(True)
            if method == "deleteWebhook":
                self.webhook = {}
                if str(params.get("drop_pending_updates")).lower() == "true":
                    self._updates.clear()
                return _ok(True)
            return _ok({"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                        "pending_update_count": len(self._updates)})

    def stop(self) -> None:
        with self._state:
            self._closing = True
            self._changed.notify_all()
        super().stop()

    def _control_ask(self, params: dict[str, Any]) -> Reply:
        """POST /control/ask {user_id, text[, lang, timeout]}: a user's message, answered with how long the bot
        took to reply (both moments taken here), for a benchmark that runs this fake in another process."""
        user = User(id=int(params["user_id"]), first_name="Bench", language_code=str(params.get("lang", "en")))
        chat = str(user.id)
        since = self.mark()
        asked = self.clock()
        self.send(user, str(params["text"]))

        def replies() -> list[dict[str, Any]]:
            return [m for m in self.messages[since:] if str(m["chat_id"]) == chat]

        if not self.wait_until(lambda: bool(replies()), float(params.get("timeout", 10))):
            return error(504, "Gateway Timeout: the bot did not reply")
        reply = replies()[0]
        return _ok({"latency_ms": (reply["time"] - asked) * 1000, "text": str(reply.get("text", ""))[:500]})

    # -- test helpers: what people do -----------------------------------------------------------------

    def group(self, chat_id: int = -1001111111111, title: str = "Readers") -> dict[str, Any]:
        """A group (supergroup) chat the bot is a member of."""
        chat = {"id": chat_id, "type": "supergroup", "title": title}
        self.groups[chat_id] = chat
        return chat

    def inject(self, update: dict[str, Any]) -> int:
        """Queue a raw update (its update_id is set here) for the next getUpdates; returns the id."""
        with self._state:
            update = {**update, "update_id": next(self._update_ids)}
            self._updates.append(update)
            self._changed.notify_all()
            return int(update["update_id"])

    def user_message(self, user: User, text: str | None, chat: dict[str, Any] | None = None,
                     **extra: Any) -> dict[str, Any]:
        with self._state:
            self._next_id += 1
            message_id = self._next_id
        message: dict[str, Any] = {"message_id": message_id, "date": int(time.time()), "chat": chat or user.chat,
                                   "from": user.as_dict(), **extra}
        if text is not None:
            message["text"] = text
            first = text.split(maxsplit=1)[0] if text.strip() else ""
            if first.startswith("/") and text.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16(first)}]
        return message

    def send(self, user: User, text: str | None, chat: dict[str, Any] | None = None, **extra: Any) -> int:
        """`user` writes `text` to the bot (in their private chat, or in `chat`)."""
        return self.inject({"message": self.user_message(user, text, chat, **extra)})

    def reaction_count(self, message_id: int, reactions: dict[str, int], date: int | None = None) -> int:
        """The channel's message `message_id` now has these reactions (emoji -> how many), as a
        message_reaction_count update (core.telegram.org/bots/api#messagereactioncountupdated) for its
        administrator bot: anonymous counts only, grouped."""
        counts = [{"type": {"type": "emoji", "emoji": emoji}, "total_count": count}
                  for emoji, count in reactions.items()]
        return self.inject({"message_reaction_count": {"chat": dict(self.chat), "message_id": message_id,
                                                       "date": date or int(time.time()), "reactions": counts}})

    def edit(self, user: User, text: str, chat: dict[str, Any] | None = None) -> int:
        """`user` edits an earlier message of theirs to `text`."""
        message = self.user_message(user, text, chat)
        message["edit_date"] = int(time.time())
        return self.inject({"edited_message": message})

    def press(self, user: User, message_id: int, data: str) -> int:
        """`user` presses a button with callback `data` under the bot's message `message_id`."""
        with self._state:
            message = dict(self._answers[message_id])
        return self.inject({"callback_query": {"id": f"cq{next(self._update_ids)}", "from": user.as_dict(),
                                               "chat_instance": "ci", "data": data, "message": message}})

    # -- test helpers: what the bot did ----------------------------------------------------------------

    def mark(self) -> int:
        """A point in the bot's output; `wait_messages(since=mark)` returns what came after it."""
        with self._state:
            return len(self.messages)

    def in_chat(self, chat_id: int | str, since: int = 0) -> list[dict[str, Any]]:
        with self._state:
            return [m for m in self.messages[since:] if str(m["chat_id"]) == str(chat_id)]

    def wait_until(self, ready: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until `ready()` (checked under the fake's lock on every change) or `timeout`.

        It blocks the calling thread: async tests use `until`, or the bot (on their loop) would stall.
        """
        deadline = time.monotonic() + timeout
        with self._state:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.25))
            return True

    async def until(self, ready: Callable[[], bool], timeout: float = 5.0) -> bool:
        """`wait_until` for async tests: waits in a thread, so the bot's event loop keeps running."""
        return await asyncio.to_thread(self.wait_until, ready, timeout)

    async def wait_messages(self, chat_id: int | str, count: int = 1, since: int = 0,
                            timeout: float = 5.0) -> list[dict[str, Any]]:
        """The bot's messages to `chat_id` after `since`, once there are `count` of them (or at `timeout`)."""

        def ready() -> bool:
            return sum(1 for m in self.messages[since:] if str(m["chat_id"]) == str(chat_id)) >= count

        await asyncio.to_thread(self.wait_until, ready, timeout)
        return self.in_chat(chat_id, since)

    async def wait_callback_answers(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        await asyncio.to_thread(self.wait_until, lambda: len(self.callback_answers) >= count, timeout)
        return list(self.callback_answers)

    def pending_updates(self) -> int:
        with self._state:
            return len(self._updates)


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


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _upload_name(request: Request, field: str) -> str | None:
    """The file name of a multipart upload's `field` (the base server keeps only the bytes)."""
    content_type = request.headers.get("content-type", "")
    if "multipart/form-data" not in content_type:
        return None
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n"
                                                  + request.body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == field:
            return part.get_filename()
    return None

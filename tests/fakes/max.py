"""A fake MAX Bot API on 127.0.0.1, written from MAX's OpenAPI schema (github.com/max-messenger/api-schema,
schema.yaml, version 0.0.33) and dev.max.ru, not from the bot's code.

What it holds to, as documented:
- the token only in the `Authorization` header (securitySchemes.access_token: `in: header`); a token in the query
  string is refused (since the move to platform-api2.max.ru), and so is a wrong one, with 401;
- errors as `{"code": ..., "message": ...}` (components.schemas.Error);
- POST /messages?chat_id=|user_id= with a NewMessageBody: `text` of at most 4,000 characters, `format` html or
  markdown, `attachments` (an image by the payload its upload answered, a file by its token, an inline keyboard),
  `link` (reply/forward to a message), `notify` (false refused in a channel); it answers SendMessageResult
  `{"message": {..., "body": {"mid", "seq", "text", "markup"}}}`. In html, only <b> <strong> <i> <em> <del> <s>
  <ins> <u> <a href> <pre> <code> <mark> <blockquote> <h1> format the text; other tags are stripped (recorded);
- PUT /messages?message_id= edits (null attachments: unchanged); PUT/GET/DELETE /chats/{chatId}/pin;
- POST /uploads?type=image|video|audio|file gives an upload URL (type=photo is no longer supported); a multipart
  POST of the field `data` there answers `{"photos": {id: {"token"}}}` for an image, `{"token"}` otherwise;
- GET /updates?marker&timeout&limit long-polls (UpdateList `{"updates", "marker"}`); POST /answers?callback_id= with a
  CallbackAnswer (`notification`, and/or `message`: "fill this if you want to modify current message", which edits the
  message whose button was pressed); PATCH /me/commands (BotCommandsPatch: at most 32, names of 1-64 characters).
The chat's limits of rate are not enforced here (tests/test_ratelimit.py tests the windows).
"""

from __future__ import annotations

import itertools
import json
import ssl
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.base import Reply, Request, ScriptedFaults

TEXT_LIMIT = 4000
HTML_TAGS = frozenset({"b", "strong", "i", "em", "del", "s", "ins", "u", "a", "pre", "code", "mark",
                       "blockquote", "h1"})
MARKUP_TYPES = {"b": "strong", "strong": "strong", "i": "emphasized", "em": "emphasized", "del": "strikethrough",
                "s": "strikethrough", "ins": "underline", "u": "underline", "a": "link", "pre": "monospaced",
                "code": "monospaced", "mark": "highlighted", "blockquote": "quote", "h1": "heading"}
BUTTON_TYPES = frozenset({"callback", "link", "request_geo_location", "request_contact", "message", "open_app",
                          "clipboard"})
BOT_ID = 1000001
# The smallest JPEG and PNG headers the upload server recognises an image by.
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF8", b"RIFF")


def error(status: int, code: str, message: str) -> Reply:
    return Reply(status=status, body={"code": code, "message": message})


@dataclass
class Sent:
    """A message as MAX holds it: what was sent (`source`), what readers see (`text`) and its formatting."""

    mid: str
    chat_id: int
    user_id: int | None
    source: str
    format: str | None
    text: str
    markup: list[dict[str, Any]]
    stripped: list[str]
    attachments: list[dict[str, Any]]
    link: dict[str, Any] | None
    notify: bool
    edits: int = 0
    history: list[str] = field(default_factory=list)

    @property
    def image(self) -> dict[str, Any] | None:
        return next((a for a in self.attachments if a.get("type") == "image"), None)

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        keyboard = next((a for a in self.attachments if a.get("type") == "inline_keyboard"), None)
        return keyboard["payload"]["buttons"] if keyboard else []

    @property
    def file(self) -> dict[str, Any] | None:
        return next((a for a in self.attachments if a.get("type") == "file"), None)


class _Html(HTMLParser):
    """MAX's html format: the text a reader sees, the markup elements of the tags MAX knows, the others stripped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.markup: list[dict[str, Any]] = []
        self.stripped: list[str] = []
        self.open: list[tuple[str, int, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            self.stripped.append(tag)
            return
        self.open.append((tag, len(self.text), dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag not in HTML_TAGS:
            return
        for index in range(len(self.open) - 1, -1, -1):
            name, start, attrs = self.open[index]
            if name == tag:
                del self.open[index]
                element: dict[str, Any] = {"type": MARKUP_TYPES[tag], "from": start, "length": len(self.text) - start}
                if tag == "a":
                    element["url"] = attrs.get("href") or ""
                self.markup.append(element)
                return

    def handle_data(self, data: str) -> None:
        self.text += data


class FakeMax(ScriptedFaults):
    """One bot (`token`) administering one channel (`channel_id`), and the people who write to it."""

    def __init__(self, token: str, channel_id: int = -72000000000000, *, channel_url: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.channel_id = channel_id
        self.channel_url = channel_url or "https://max.ru/valdaiclub"
        self.admin = True  # the bot administers the channel (may write, edit, pin)
        self.messages: list[Sent] = []
        self.pinned: dict[int, str | None] = {}
        self.pins: list[tuple[int, str, bool]] = []
        self.unpins: list[int] = []
        self.blocked: set[int] = set()  # people who stopped the bot: sending to them is refused
        self.not_ready = 0  # how many sends with a fresh image attachment answer attachment.not.ready
        self.files: dict[str, tuple[bytes, str]] = {}  # paths served without authorisation (a cover's host)
        self.uploads: dict[str, tuple[str, bytes, str]] = {}  # token -> (type, bytes, file name)
        self.answers: list[tuple[str, dict[str, Any]]] = []
        self.commands: list[dict[str, Any]] = []  # the bot's command menu (PATCH /me/commands)
        self.file_names: dict[str, str] = {}  # an uploaded file's token -> the name it was uploaded with
        self._upload_urls: dict[str, str] = {}  # upload path -> type
        self._callbacks: dict[str, tuple[int, str]] = {}  # callback_id -> (user, the pressed message's mid)
        self._updates: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._state = threading.Condition()
        self._route_faults: dict[str, deque[Reply | None]] = defaultdict(deque)

    # -- scripting ---------------------------------------------------------------------------------------------

    def fail_call(self, route: str, call: int, reply: Reply) -> None:
        """Answer the call-th request to `route` ("POST /messages") from now (1 = the next) with `reply`."""
        with self._state:
            queued = self._route_faults[route]
            queued.extend([None] * (call - len(queued)))
            queued[call - 1] = reply

    def wrap_socket(self, context: ssl.SSLContext) -> None:
        """Serve HTTPS with `context` (before `start`): MAX's host has a certificate only some systems trust."""
        assert self._server is not None
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    def serve_file(self, path: str, content: bytes, content_type: str) -> str:
        """Serve `content` at `path` without authorisation (an image host); its URL."""
        self.files[path] = (content, content_type)
        return f"{self.base_url}{path}"

    def user_writes(self, user_id: int, text: str, name: str = "Anna", locale: str = "en") -> None:
        """A person sends `text` to the bot in their dialog (a message_created update)."""
        mid = f"mid.user{next(self._ids)}"
        self._push({"update_type": "message_created", "timestamp": _ms(), "user_locale": locale, "message": {
            "sender": _user(user_id, name), "recipient": {"chat_id": _dialog(user_id), "chat_type": "dialog",
                                                          "user_id": BOT_ID},
            "timestamp": _ms(), "body": {"mid": mid, "seq": next(self._ids), "text": text}}})

    def user_starts(self, user_id: int, payload: str | None = None, name: str = "Anna", locale: str = "en") -> None:
        """A person presses Start (a deep link's payload with it): a bot_started update."""
        self._push({"update_type": "bot_started", "timestamp": _ms(), "chat_id": _dialog(user_id),
                    "user": _user(user_id, name), "payload": payload, "user_locale": locale})

    def user_presses(self, user_id: int, message: Sent, payload: str, name: str = "Anna", locale: str = "en") -> str:
        """A person presses the callback button with `payload` under `message`; the callback_id."""
        assert any(b.get("payload") == payload for row in message.buttons for b in row), \
            f"no button {payload!r} under the message"
        callback_id = f"cb{next(self._ids)}"
        with self._state:
            self._callbacks[callback_id] = (user_id, message.mid)
        self._push({"update_type": "message_callback", "timestamp": _ms(), "user_locale": locale,
                    "callback": {"timestamp": _ms(), "callback_id": callback_id, "payload": payload,
                                 "user": _user(user_id, name)},
                    "message": self._message(message)})
        return callback_id

    # -- what the fake holds -------------------------------------------------------------------------------------

    def channel_posts(self) -> list[Sent]:
        return [m for m in self.messages if m.chat_id == self.channel_id]

    def sent_to(self, user_id: int) -> list[Sent]:
        return [m for m in self.messages if m.user_id == user_id]

    def calls(self, route: str) -> list[Request]:
        method, _, path = route.partition(" ")
        return [r for r in self.requests if r.method == method and r.path == path]

    def wait_for(self, condition: Any, timeout: float = 10.0) -> None:
        """Wait until `condition()` holds (the bot answered), or fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._state:
            while not condition():
                left = deadline - time.monotonic()
                assert left > 0, "the bot did not do it in time"
                self._state.wait(min(left, 0.05))

    # -- the API -------------------------------------------------------------------------------------------------

    def fault_for(self, request: Request) -> Reply | None:
        with self._state:
            queued = self._route_faults.get(f"{request.method} {request.path}")
            return queued.popleft() if queued else None

    def handle(self, request: Request) -> Reply:
        if request.path in self.files:
            content, kind = self.files[request.path]
            return Reply(body=content, headers={"Content-Type": kind})
        if request.path in self._upload_urls:
            return self._upload(request)  # the upload URL carries its own authorisation
        query = dict(parse_qsl(urlsplit(request.path).query))
        if "access_token" in request.params or "access_token" in query:
            return error(401, "verify.token", "Passing the token in query parameters is no longer supported; "
                                              "use the Authorization header")
        if request.headers.get("authorization") != self.token:
            return error(401, "verify.token", "Invalid access_token")
        with self._state:
            try:
                return self._route(request)
            finally:
                self._state.notify_all()

    def _route(self, request: Request) -> Reply:
        route, params = f"{request.method} {request.path}", request.params
        body = json.loads(request.body) if request.body else {}
        if route == "GET /me":
            return Reply(body={**_user(BOT_ID, "Valdai bot"), "is_bot": True, "username": "valdai_bot"})
        if route == "POST /uploads":
            kind = params.get("type")
            if kind == "photo":
                return error(400, "proto.payload", "type=photo is no longer supported, use type=image")
            if kind not in ("image", "video", "audio", "file"):
                return error(400, "proto.payload", f"unknown upload type {kind!r}")
            path = f"/upload/{next(self._ids)}"
            self._upload_urls[path] = kind
            return Reply(body={"url": f"{self.base_url}{path}"})
        if route == "POST /messages":
            return self._send(params, body)
        if route == "PUT /messages":
            return self._edit(params.get("message_id"), body)
        if route == "POST /answers":
            pressed = self._callbacks.get(params.get("callback_id", ""))
            if pressed is None:
                return error(400, "proto.payload", "callback_id: unknown callback")
            if not body.get("message") and not body.get("notification"):
                return error(400, "proto.payload", "either message or notification is required")
            if body.get("message"):
                edited = self._edit(pressed[1], body["message"])
                if edited.status != 200:
                    return edited
            self.answers.append((params["callback_id"], body))
            return Reply(body={"success": True})
        if route == "PATCH /me/commands":
            commands = body.get("commands")
            if not isinstance(commands, list) or len(commands) > 32 or not all(
                    isinstance(c, dict) and 1 <= len(c.get("name") or "") <= 64
                    and len(c.get("description") or "x") <= 128 for c in commands):
                return error(400, "proto.payload", "commands: at most 32, each with a name of 1-64 characters")
            self.commands = commands
            return Reply(body={"commands": commands})
        if route == "GET /updates":
            return self._poll(params)
        if request.path.startswith("/chats/") and request.path.endswith("/pin"):
            return self._pin(request.method, request.path.split("/")[2], body)
        return error(404, "not.found", f"{route}: no such method")

    def _send(self, params: dict[str, Any], body: dict[str, Any]) -> Reply:
        if ("chat_id" in params) == ("user_id" in params):
            return error(400, "proto.payload", "give either chat_id or user_id")
        user_id = int(params["user_id"]) if "user_id" in params else None
        if user_id is not None:
            if user_id in self.blocked:
                return error(403, "chat.denied", "chat.denied: the user has blocked the bot")
            chat_id = _dialog(user_id)
        else:
            chat_id = int(params["chat_id"])
            if chat_id != self.channel_id:
                return error(404, "chat.not.found", f"Chat {chat_id} not found")
            if not self.admin:
                return error(403, "chat.denied", "chat.denied: the bot is not an administrator of the channel")
            if body.get("notify") is False:
                return error(400, "proto.payload", "notify=false is not allowed in a channel")
        problem = self._check_body(body)
        if problem is not None:
            return problem
        if self.not_ready and any(a.get("type") == "image" for a in body.get("attachments") or ()):
            self.not_ready -= 1
            return error(400, "attachment.not.ready", "Key: errors.process.attachment.file.not.processed")
        link = body.get("link")
        if link is not None and (link.get("type") not in ("reply", "forward")
                                 or not any(m.mid == link.get("mid") for m in self.messages)):
            return error(400, "proto.payload", f"link: no message {link.get('mid')!r}")
        source = body.get("text") or ""
        text, markup, stripped = _formatted(source, body.get("format"))
        sent = Sent(mid=f"mid.{next(self._ids):016x}", chat_id=chat_id, user_id=user_id, source=source,
                    format=body.get("format"), text=text, markup=markup, stripped=stripped,
                    attachments=list(body.get("attachments") or []), link=link, notify=body.get("notify", True))
        self.messages.append(sent)
        return Reply(body={"message": self._message(sent)})

    def _check_body(self, body: dict[str, Any]) -> Reply | None:
        text = body.get("text")
        if text is not None and len(text) > TEXT_LIMIT:
            return error(400, "proto.payload", f"text: size must be between 0 and {TEXT_LIMIT}")
        if body.get("format") not in (None, "html", "markdown"):
            return error(400, "proto.payload", f"format: unknown value {body.get('format')!r}")
        for attachment in body.get("attachments") or ():
            problem = self._check_attachment(attachment)
            if problem:
                return error(400, "proto.payload", f"attachments: {problem}")
        if not text and not body.get("attachments"):
            return error(400, "proto.payload", "text or attachments required")
        return None

    def _check_attachment(self, attachment: dict[str, Any]) -> str | None:
        kind, payload = attachment.get("type"), attachment.get("payload") or {}
        if kind == "image":
            photos = payload.get("photos")
            tokens = [p.get("token") for p in photos.values()] if isinstance(photos, dict) else [payload.get("token")]
            if payload.get("url"):
                return None
            if not tokens or any(self.uploads.get(t or "", ("",))[0] != "image" for t in tokens):
                return "image: no uploaded image with that token"
            return None
        if kind == "file":
            if self.uploads.get(payload.get("token") or "", ("",))[0] != "file":
                return "file: no uploaded file with that token"
            return None
        if kind == "inline_keyboard":
            rows = payload.get("buttons")
            if not isinstance(rows, list) or not rows:
                return "inline_keyboard: buttons must be a non-empty array of rows"
            for button in (b for row in rows for b in row):
                if button.get("type") not in BUTTON_TYPES or not 1 <= len(button.get("text") or "") <= 128:
                    return f"inline_keyboard: bad button {button!r}"
                if button["type"] in ("callback", "clipboard") and not 0 < len(button.get("payload") or "") <= 1024:
                    return "inline_keyboard: a callback button needs a payload of at most 1024 characters"
                if button["type"] == "link" and not 0 < len(button.get("url") or "") <= 2048:
                    return "inline_keyboard: a link button needs a url of at most 2048 characters"
            return None
        return f"unknown attachment type {kind!r}"

    def _edit(self, message_id: str | None, body: dict[str, Any]) -> Reply:
        sent = next((m for m in self.messages if m.mid == message_id), None)
        if sent is None:
            return error(404, "not.found", f"message {message_id!r} not found")
        problem = self._check_body({**body, "attachments": body.get("attachments") or sent.attachments})
        if problem is not None:
            return problem
        sent.history.append(sent.source)
        sent.source = body.get("text") or ""
        sent.format = body.get("format")
        sent.text, sent.markup, sent.stripped = _formatted(sent.source, sent.format)
        if body.get("attachments") is not None:
            sent.attachments = list(body["attachments"])
        sent.edits += 1
        return Reply(body={"success": True})

    def _pin(self, method: str, chat: str, body: dict[str, Any]) -> Reply:
        chat_id = int(chat)
        if chat_id != self.channel_id:
            return error(404, "chat.not.found", f"Chat {chat_id} not found")
        if method == "GET":
            mid = self.pinned.get(chat_id)
            message = next((m for m in self.messages if m.mid == mid), None)
            return Reply(body={"message": self._message(message) if message else None})
        if not self.admin:
            return error(403, "chat.denied", "chat.denied: the bot may not pin here")
        if method == "PUT":
            mid = body.get("message_id")
            if not any(m.mid == mid and m.chat_id == chat_id for m in self.messages):
                return error(404, "not.found", f"message {mid!r} not found")
            self.pinned[chat_id] = mid
            self.pins.append((chat_id, mid, body.get("notify", True)))
            return Reply(body={"success": True})
        if method == "DELETE":
            self.pinned[chat_id] = None
            self.unpins.append(chat_id)
            return Reply(body={"success": True})
        return error(405, "method.not.allowed", method)

    def _upload(self, request: Request) -> Reply:
        kind = self._upload_urls[request.path]
        data = request.params.get("data")
        if request.method != "POST" or not isinstance(data, bytes) or not data:
            return Reply(status=400, body={"error_code": "upload.error", "error_msg": "no file in the field data"})
        if kind == "image" and not data.startswith(IMAGE_MAGIC):
            return Reply(status=400, body={"error_code": "upload.error", "error_msg": "not an image"})
        token = f"tok{next(self._ids)}"
        with self._state:
            self.uploads[token] = (kind, data, str(request.headers.get("content-type", "")))
            self.file_names[token] = _file_name(request)
        if kind == "image":
            return Reply(body={"photos": {str(next(self._ids)): {"token": token}}})
        return Reply(body={"token": token})

    def _poll(self, params: dict[str, Any]) -> Reply:
        marker = int(params.get("marker") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 30)
        if not 0 <= timeout <= 90 or not 1 <= limit <= 1000:
            return error(400, "proto.payload", "timeout must be 0-90 and limit 1-1000")
        deadline = time.monotonic() + timeout
        while len(self._updates) <= marker and time.monotonic() < deadline:
            self._state.wait(min(deadline - time.monotonic(), 0.05))
        updates = self._updates[marker:marker + limit]
        return Reply(body={"updates": updates, "marker": marker + len(updates)})

    def _push(self, update: dict[str, Any]) -> None:
        with self._state:
            self._updates.append(update)
            self._state.notify_all()

    def _message(self, sent: Sent) -> dict[str, Any]:
        channel = sent.chat_id == self.channel_id
        recipient: dict[str, Any] = {"chat_id": sent.chat_id, "chat_type": "channel" if channel else "dialog"}
        if sent.user_id is not None:
            recipient["user_id"] = sent.user_id
        return {
            "sender": None if channel else {**_user(BOT_ID, "Valdai bot"), "is_bot": True},
            "recipient": recipient, "timestamp": _ms(),
            "body": {"mid": sent.mid, "seq": int(sent.mid.removeprefix("mid."), 16), "text": sent.text,
                     "markup": sent.markup, "attachments": sent.attachments},
            "url": f"{self.channel_url}/{sent.mid}" if channel else None,
        }


def _formatted(source: str, markup: str | None) -> tuple[str, list[dict[str, Any]], list[str]]:
    if markup != "html":
        return source, [], []
    parser = _Html()
    parser.feed(source)
    parser.close()
    return parser.text, parser.markup, parser.stripped


def _file_name(request: Request) -> str:
    """The name of the file in a multipart upload (its Content-Disposition's filename)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + str(request.headers.get("content-type", "")).encode() + b"\r\n\r\n" + request.body)
    return next((str(part.get_filename()) for part in message.iter_parts() if part.get_filename()), "")


def _user(user_id: int, name: str) -> dict[str, Any]:
    return {"user_id": user_id, "first_name": name, "last_name": None, "username": None, "is_bot": False,
            "last_activity_time": _ms()}


def _dialog(user_id: int) -> int:
    return 5_000_000_000 + user_id  # a dialog's chat id differs from the person's user id


def _ms() -> int:
    return int(time.time() * 1000)

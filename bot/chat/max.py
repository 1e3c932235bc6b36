"""The chat bot on MAX: long polling over GET /updates, each update translated into `Incoming` and answered by the
same features as on Telegram (bot/chat/features.py), `Replies` as MAX Bot API calls (a press answered with POST
/answers, which also edits the pressed message), the calendar as an uploaded file, and personal reminders and
approval requests sent by the same bot at MAX's rate (bot/platforms.py), every call through the token's limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from bot.adapters.max import Denied, MaxApi, NotFound
from bot.alerts import Alerts
from bot.chat.approvals import Approvals
from bot.chat.broadcast import Broadcaster, Unreachable, progress_lines
from bot.chat.core import ChatUnavailable, Handler, Incoming, Keyboard, Services, clip
from bot.chat.features import COMMANDS, Fallbacks, routes
from bot.chat.flood import Throttle, admitted
from bot.chat.health import ChatHealth, PollingMonitor
from bot.chat.texts import command_description, lang_of
from bot.clock import Clock, utcnow
from bot.config.live import LiveConfig
from bot.config.settings import MaxTarget
from bot.domain import Platform
from bot.errors import PublishError, RateLimited
from bot.operations import Operations
from bot.platforms import MAX
from bot.ratelimit import RateLimits, Slot, TokenLimits
from bot.storage.reminders import Progress, Reminder

log = logging.getLogger("announce_bot.chat.max")

T = TypeVar("T")
POLL_TIMEOUT = 30  # seconds MAX holds a GET /updates open when nothing happens (it allows 0-90)
UPDATE_TYPES = ("message_created", "message_edited", "message_callback", "bot_started")
FIRST_PAUSE, MAX_PAUSE = 1.0, 30.0  # after a failed poll: 1 s, then 1.5 times longer each time, up to 30 s
CONCURRENT_UPDATES = 16
REPLY_RETRIES = 1  # a reply refused with a 429 is sent again once, after the pause MAX asked for


def buttons_attachment(buttons: Keyboard) -> dict[str, Any]:
    """An inline keyboard as MAX attaches it: callback buttons carry the packed payload, link buttons their URL."""
    return {"type": "inline_keyboard", "payload": {"buttons": [[
        {"type": "link", "text": b.text, "url": b.url} if b.url else
        {"type": "callback", "text": b.text, "payload": b.data.pack() if b.data else ""}
        for b in row] for row in buttons]}}


def body(text: str, buttons: Keyboard | None) -> dict[str, Any]:
    """A NewMessageBody in MAX's html format (the chat bot's texts use only tags MAX knows: b, i, a, code)."""
    return {"text": clip(text, MAX), "format": "html",
            "attachments": [buttons_attachment(buttons)] if buttons else []}


class MaxClient:
    """MaxApi with the token's shared limits (bot/ratelimit.py): every call waits for its slot, and a 429 pauses
    everything the token sends, channel posts included."""

    def __init__(self, api: MaxApi, limits: TokenLimits) -> None:
        self.api = api
        self.limits = limits

    async def limited(self, call: Callable[[], Awaitable[T]], chat: int | None = None, slot: Slot | None = None
                      ) -> T:
        """Run `call` in a slot (the one a sender took already, else a new one; a reply refused with a 429 goes
        again once the pause is over)."""
        attempt = 0
        while True:
            taken = slot or await self.limits.take(None if chat is None else str(chat))
            try:
                return await call()
            except RateLimited as exc:
                self.limits.pause(exc.retry_after)
                log.warning("MAX asks this bot to slow down: everything it sends waits %g s", exc.retry_after)
                if slot is not None or attempt >= REPLY_RETRIES:
                    raise
                attempt += 1
            finally:
                taken.done()

    async def send(self, to: dict[str, Any], message: dict[str, Any], slot: Slot | None = None) -> dict[str, Any]:
        """POST /messages to a person (`user_id`) or a chat (`chat_id`), without link previews."""
        params = {**to, "disable_link_preview": "true"}
        return await self.limited(lambda: self.api.send(params, message), next(iter(to.values())), slot)

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return await self.limited(lambda: self.api.call(method, path, sending=False, **kwargs))


@dataclass(frozen=True)
class Received:
    """An update the features can answer: what it says, and what answering it needs."""

    msg: Incoming
    kind: str  # "command", "text", "edited" or "press"
    callback_id: str | None = None
    mid: str | None = None  # the pressed message


def read(update: dict[str, Any]) -> Received | None:
    """The update as `Incoming`, or None for the kinds the bot does not answer (a bot's own messages, chats the bot
    was added to...). A malformed update raises KeyError, TypeError or ValueError."""
    kind = update["update_type"]
    locale = update.get("user_locale")
    if kind == "bot_started":  # Start pressed, perhaps through a deep link: /start with its payload
        user = update["user"]
        payload = update.get("payload")
        msg = Incoming(messenger=Platform.MAX, chat_id=int(update["chat_id"]), user_id=int(user["user_id"]),
                       private=True, name=user.get("first_name"), handle=user.get("username"), language=locale,
                       command="start", args=(str(payload),) if payload else ())
        return Received(msg, "command")
    if kind == "message_callback":
        callback, message = update["callback"], update.get("message") or {}
        user, recipient = callback["user"], message.get("recipient") or {}
        keyboards = [a for a in (message.get("body") or {}).get("attachments") or ()
                     if a.get("type") == "inline_keyboard"]
        chat_id = recipient.get("chat_id")
        msg = Incoming(messenger=Platform.MAX, chat_id=int(chat_id) if chat_id is not None else None,
                       user_id=int(user["user_id"]), private=recipient.get("chat_type", "dialog") == "dialog",
                       name=user.get("first_name"), handle=user.get("username"), language=locale,
                       data=str(callback.get("payload") or ""),
                       rows=len(keyboards[0]["payload"]["buttons"]) if keyboards else 0)
        return Received(msg, "press", str(callback["callback_id"]), (message.get("body") or {}).get("mid"))
    if kind not in ("message_created", "message_edited"):
        return None
    message = update["message"]
    sender, recipient = message.get("sender") or {}, message["recipient"]
    if sender.get("is_bot") or recipient.get("chat_type") == "channel":
        return None
    text = (message.get("body") or {}).get("text") or ""
    command = addressee = None
    words = text.split()
    if words and words[0].startswith("/") and kind == "message_created":
        name, _, to = words[0][1:].partition("@")
        command, addressee = name.lower(), to or None
    msg = Incoming(messenger=Platform.MAX, chat_id=int(recipient["chat_id"]),
                   user_id=int(sender["user_id"]) if "user_id" in sender else None,
                   private=recipient.get("chat_type") == "dialog", name=sender.get("first_name"),
                   handle=sender.get("username"), language=locale, command=command, addressee=addressee,
                   args=tuple(words[1:]) if command else ())
    return Received(msg, "edited" if kind == "message_edited" else "command" if command else "text")


class MaxReplies:
    """`Replies` to one MAX update. A press gets one POST /answers when handling is over, with the note to show
    and the message as it should now read (MAX edits the pressed message with it), whichever were given."""

    def __init__(self, client: MaxClient, received: Received) -> None:
        self.client = client
        self.msg = received.msg
        self.callback_id = received.callback_id
        self.mid = received.mid
        self._note: str | None = None
        self._message: dict[str, Any] | None = None

    @property
    def _to(self) -> dict[str, Any]:
        # A person by their user id (what MAX's own dialogs are addressed by); a group by its chat id.
        return {"user_id": self.msg.user_id} if self.msg.private else {"chat_id": self.msg.chat_id}

    async def send(self, text: str, buttons: Keyboard | None = None, *, reply: bool = False) -> None:
        message = body(text, buttons)
        if reply and self.mid:
            message["link"] = {"type": "reply", "mid": self.mid}
        await self.client.send(self._to, message)

    async def edit(self, text: str, buttons: Keyboard | None = None) -> None:
        if self.callback_id is None:
            await self.send(text, buttons)
            return
        self._message = body(text, buttons)

    async def edit_buttons(self, text: str, buttons: Keyboard | None) -> None:
        await self.edit(text, buttons)  # MAX edits a message whole: its text goes again with the new buttons

    async def drop_buttons(self) -> None:
        """Nothing: the callback carries the message as readers see it, not the html it was sent as, so editing it
        would lose its formatting; its buttons stay (a second press is refused by the operation)."""

    async def answer(self, note: str | None = None) -> None:
        if note:
            self._note = note[:200]

    async def send_file(self, name: str, data: bytes, caption: str) -> None:
        uploaded = await self.client.limited(
            lambda: self.client.api.upload("file", name, data, "text/calendar", f"the file {name}"))
        message = body(caption, None)
        message["attachments"] = [{"type": "file", "payload": uploaded}]
        await self.client.send(self._to, message)

    async def finish(self) -> None:
        """Answer the press (MAX wants a note or a message; with neither, there is nothing to answer with)."""
        if self.callback_id is None or (self._note is None and self._message is None):
            return
        answer: dict[str, Any] = {}
        if self._note is not None:
            answer["notification"] = self._note
        if self._message is not None:
            answer["message"] = self._message
        await self.client.call("POST", "/answers", params={"callback_id": self.callback_id}, body=answer)


class MaxCourier:
    """Personal reminders by MAX direct message (a group that subscribed, to its chat), in the pacer's slot."""

    messenger = Platform.MAX
    paid_broadcasts = False

    def __init__(self, client: MaxClient) -> None:
        self.client = client

    async def send(self, row: Reminder, text: str, buttons: Keyboard, slot: Slot, *, paid: bool) -> int | None:
        # A group subscribes as itself (its chat is its id); a person is written to by their user id.
        to = {"chat_id": row.chat_id} if row.user_id == row.chat_id else {"user_id": row.user_id}
        try:
            await self.client.send(to, body(text, buttons), slot)
        except Denied as exc:  # 403 chat.denied: the person stopped or blocked the bot
            raise Unreachable(str(exc), blocked=True) from None
        except NotFound as exc:
            raise Unreachable(str(exc), blocked=False) from None
        return None  # MAX's message ids are strings: nothing to keep in the numeric column


class MaxAsker:
    """Approval requests by MAX direct message (`[admin] max_approver_ids`)."""

    messenger = Platform.MAX

    def __init__(self, client: MaxClient) -> None:
        self.client = client

    async def ask(self, approver: int, text: str, buttons: Keyboard) -> bool:
        try:
            await self.client.send({"user_id": approver}, body(text, buttons))
        except PublishError as exc:
            log.warning("could not ask approver %s on MAX: %s", approver, exc)
            return False
        return True


class MaxChat:
    """The running subscriber bot on MAX: polling, the features, the reminder broadcaster, its approvers."""

    def __init__(self, services: Services, client: MaxClient, broadcaster: Broadcaster, approvals: Approvals,
                 target: MaxTarget, *, poll_timeout: int = POLL_TIMEOUT) -> None:
        self.services = services
        self.client = client
        self.broadcaster = broadcaster
        self.approvals = approvals
        self.target = target
        self.poll_timeout = poll_timeout
        settings = services.config.settings.chat
        # The same clock as everything else, so that tests can hold time still instead of racing the refill.
        self.throttle = Throttle(settings.flood_burst, settings.flood_rate,
                                 clock=lambda: services.clock().timestamp())
        self.routes = routes(services, approvals)
        self.fallbacks = Fallbacks(services)
        self.monitor = PollingMonitor("polling", services.clock, call="GET /updates")
        self._poller: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()
        self._room = asyncio.Semaphore(CONCURRENT_UPDATES)

    def __repr__(self) -> str:
        return f"MaxChat(target={self.services.config.settings.chat.max_target!r})"

    def health(self) -> ChatHealth:
        return self.monitor.health()

    async def start(self) -> None:
        """Learn the bot's name (for deep links), publish its command menu, then poll; a token MAX refuses raises."""
        me = await self.client.call("GET", "/me")
        self.services.bot_username = str(me.get("username") or self.services.bot_username)
        await self._menu()
        self._poller = asyncio.create_task(self._poll(), name="max-updates")
        await self.broadcaster.start()
        self.approvals.join(MaxAsker(self.client))
        await self.approvals.start()

    async def _menu(self) -> None:
        """MAX keeps one command menu per bot (no language of its own): in the MAX target's language."""
        lang = lang_of(self.target.lang)
        commands = [{"name": name, "description": command_description(name, lang)} for name in COMMANDS]
        try:
            await self.client.call("PATCH", "/me/commands", body={"commands": commands})
        except PublishError as exc:  # the bot answers without its menu
            log.warning("could not set the MAX bot's command menu: %s", exc)

    async def stop(self) -> None:
        """Stop every part, each even if another failed: this never raises, so a SIGTERM ends cleanly."""

        async def polling() -> None:
            if self._poller is not None:
                self._poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._poller
                self._poller = None
            if self._handling:
                await asyncio.wait(set(self._handling), timeout=5.0)

        for part, step in (("the approval requests", partial(self.approvals.leave, Platform.MAX)),
                           ("the reminder broadcaster", self.broadcaster.stop), ("receiving updates", polling),
                           ("the MAX client", self.client.api.aclose)):
            try:
                await step()
            except Exception as exc:
                log.warning("stopping the MAX chat bot: %s did not stop cleanly: %s %s", part, type(exc).__name__, exc)
        self.monitor.stopped()

    async def _poll(self) -> None:
        marker: int | None = None
        pause = 0.0
        while True:
            params: dict[str, Any] = {"timeout": self.poll_timeout, "limit": 100, "types": ",".join(UPDATE_TYPES)}
            if marker is not None:
                params["marker"] = marker  # confirms every update before it
            try:
                answer = await self.client.api.call("GET", "/updates", params=params, sending=False,
                                                    timeout=self.poll_timeout + self.client.api.timeout)
                updates = answer.get("updates")
                if not isinstance(updates, list):
                    raise PublishError("MAX answered GET /updates without a list of updates")
            except PublishError as exc:  # MaxApi's messages never hold the token
                self.monitor.failed(f"{type(exc).__name__}: {exc}")
                pause = min(MAX_PAUSE, pause * 1.5 or FIRST_PAUSE)
                await asyncio.sleep(pause)
                continue
            pause = 0.0
            self.monitor.answered()
            for update in updates:
                await self._room.acquire()  # at most CONCURRENT_UPDATES handled at once
                task = asyncio.create_task(self._handle(update), name="max-update")
                self._handling.add(task)
                task.add_done_callback(self._handled)
            if isinstance(answer.get("marker"), int):
                marker = answer["marker"]

    def _handled(self, task: asyncio.Task[None]) -> None:
        self._handling.discard(task)
        self._room.release()

    async def _handle(self, update: Any) -> None:
        try:
            received = read(update)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            kind = update.get("update_type", "?") if isinstance(update, dict) else "?"
            self.monitor.skipped(f"{kind} at {update.get('timestamp', '?') if isinstance(update, dict) else '?'}",
                                 exc)
            return
        if received is None:
            return
        out = MaxReplies(self.client, received)
        try:
            if await admitted(self.throttle, self.services, received.msg, out):
                await self._route(received)(received.msg, out)
            await out.finish()
        except Exception as exc:  # one update failing stops nothing else; MaxApi's messages hold no token
            log.error("handling a MAX %s update failed: %s %s", received.kind, type(exc).__name__,
                      exc if isinstance(exc, PublishError) else "", exc_info=None if isinstance(exc, PublishError)
                      else exc)

    def _route(self, received: Received) -> Handler:
        msg, fallbacks = received.msg, self.fallbacks
        if received.kind == "press":
            return self.routes.button(msg.data) or fallbacks.stale
        if received.kind == "edited":
            return fallbacks.edited
        if received.kind == "text":
            return fallbacks.other
        ours = msg.addressee is None or msg.addressee.lower() == self.services.bot_username.lower()
        handler = self.routes.commands.get(msg.command or "") if ours else None
        return handler or fallbacks.unknown_command


def max_chat(
    live: LiveConfig,
    operations: Operations,
    *,
    alerts: Alerts | None = None,
    clock: Clock = utcnow,
    observer: Callable[[list[Progress]], None] | None = None,
    worker: str | None = None,
    limits: RateLimits | None = None,
    approvals: Approvals | None = None,
    poll_timeout: int = POLL_TIMEOUT,
) -> MaxChat:
    """The chat bot on MAX for `[chat] max_target`, ready to start; ChatUnavailable says why it cannot run.

    `limits` are the runtime's (the MAX target's channel posts share the token's); `approvals` the Telegram chat
    bot's, when one runs, so that every approver is asked in one round."""
    config = live.current
    settings = config.settings.chat
    if not settings.enabled:
        raise ChatUnavailable("[chat] enabled = false")
    target = config.settings.targets.get(settings.max_target)
    if target is None:
        raise ChatUnavailable(f"no MAX target {settings.max_target!r} in settings.toml ([chat] max_target)")
    if not isinstance(target, MaxTarget):
        raise ChatUnavailable(f"[chat] max_target {settings.max_target!r} is not a MAX target in settings.toml")
    token = target.secret("token")
    if not token:
        raise ChatUnavailable(f"MAX target {settings.max_target!r} has no bot token")
    shared = (limits or RateLimits(enabled=config.settings.delivery.rate_limit)).for_token(Platform.MAX, token)
    api = MaxApi(token, target.api_base_url, target.timeout, f"MAX chat bot ({settings.max_target})", target.ca_file)
    client = MaxClient(api, shared)
    services = Services(live=live, subscribers=operations.subscribers, messenger=Platform.MAX, clock=clock,
                        operations=operations, progress=lambda: progress_lines(operations.reminders))
    broadcaster = Broadcaster(live, operations.reminders, MaxCourier(client), shared, chats=services.chats,
                              alerts=alerts, clock=clock, key=services.key, observer=observer,
                              worker=f"chat-max:{worker}" if worker else None)
    return MaxChat(services, client, broadcaster, approvals or Approvals(live, operations), target,
                   poll_timeout=poll_timeout)

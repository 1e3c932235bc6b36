"""Publishes to a MAX channel through MAX's Bot API (platform-api2.max.ru), a small client over httpx.

Every call and what it answers are in MAX's OpenAPI schema (github.com/max-messenger/api-schema, schema.yaml):
`POST /messages?chat_id=` sends (`NewMessageBody`: text of at most 4,000 characters, `format: "html"`,
`attachments`, `link`) and answers `{"message": {"body": {"mid": ...}, "url": ...}}`; `PUT /messages?message_id=`
edits; `PUT`/`GET`/`DELETE /chats/{chatId}/pin` pin, read and remove the pinned message; `POST /uploads?type=image`
gives a URL to upload to, whose answer is the attachment's payload. The token goes in the `Authorization` header
only (a token in the query string is refused); errors are `{"code": ..., "message": ...}`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import certifi
import httpx

from bot.abc import Adapter, PartLog, send_parts
from bot.adapters.transport import http_error, json_object, network_error, retry_after_header, transport_failure
from bot.config.settings import MaxTarget
from bot.domain import Receipt, RenderedPost
from bot.errors import CredentialsError, OutcomeUnknown, PermanentError, PublishError, TransientError
from bot.platforms import MAX

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://platform-api2.max.ru"
# MAX publishes one limit, about 30 requests a second per bot, and no Retry-After: a 429 that names no wait
# waits a few of those windows out.
DEFAULT_RETRY_AFTER = 5.0
# The upload path's limit for one image (schema, POST /uploads): 50 MB.
MAX_IMAGE_BYTES = 50 * 1024 * 1024
IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
# An image just uploaded may not be processed yet: sending answers 400 `attachment.not.ready` ("try to send a
# message again", schema, POST /messages). Nothing was published, so it is tried again after these pauses.
NOT_READY_PAUSES = (0.5, 1.0, 2.0)

Sleep = Callable[[float], Awaitable[None]]


def ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """The roots httpx trusts by default (certifi's), plus `ca_file`: platform-api2.max.ru's certificate chains
    to the Russian Ministry of Digital Development's root CA, which few systems carry."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


class MaxApi:
    """The calls the bot makes to MAX's Bot API, each failure in the bot's own errors (bot/errors.py) and by the
    one fault rule (bot/adapters/transport.py): a request that never left is transient; one that may have
    arrived is OutcomeUnknown when it publishes (`sending`), MAX knowing no idempotency key."""

    def __init__(self, token: str, base_url: str | None, timeout: float, where: str, ca_file: Path | None = None,
                 sleep: Sleep = asyncio.sleep) -> None:
        self._token = token
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.where = where
        self._ca_file = ca_file
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None
        # httpx logs every request line at INFO; the token is never in a URL here, but keep its chatter out.
        logger = logging.getLogger("httpx")
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # No Authorization among the client's own headers: the cover's host and the upload URL must not get it.
            self._client = httpx.AsyncClient(timeout=self.timeout, verify=ssl_context(self._ca_file),
                                             headers={"User-Agent": "announce-bot"})
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def call(self, method: str, path: str, *, sending: bool, params: dict[str, Any] | None = None,
                   body: dict[str, Any] | None = None, timeout: float | None = None) -> dict[str, Any]:
        """One API call; the answer's JSON object. `sending` says whether the call publishes something."""
        if not self._token:
            raise CredentialsError(f"{self.where}: no bot token configured")
        failure: PublishError
        try:
            response = await self.client.request(
                method, f"{self.base_url}{path}", params=params, json=body,
                headers={"Authorization": self._token},
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            failure = self._network(exc, sending, timeout or self.timeout)
        else:
            return self._answer(response, sending)
        raise failure from None  # outside the except block: httpx's exception is not chained

    async def send(self, params: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """POST /messages: the message MAX created. An image still being processed is waited for briefly."""
        for pause in (*NOT_READY_PAUSES, None):
            try:
                answer = await self.call("POST", "/messages", params=params, body=body, sending=True)
            except _NotReady as exc:
                if pause is None:
                    raise TransientError(f"{self.where}: {exc}; nothing was sent") from None
                await self._sleep(pause)
                continue
            message = answer.get("message")
            if not isinstance(message, dict) or not isinstance(message.get("body"), dict) \
                    or not message["body"].get("mid"):
                raise OutcomeUnknown(f"{self.where}: MAX answered without the message's id; "
                                     "the post may or may not have been published")
            return message
        raise AssertionError("unreachable")  # pragma: no cover

    async def upload_image(self, url: str) -> dict[str, Any] | None:
        """Fetch the image at `url` and upload it to MAX; the attachment payload, or None (with a warning) when
        the image itself is unusable. A failure of MAX's API raises: nothing is published either way."""
        try:
            image = await self.client.get(url, follow_redirects=True)
        except httpx.HTTPError as exc:
            log.warning("%s: cannot fetch the cover %s (%s); the post goes out without it", self.where, url,
                        type(exc).__name__)
            return None
        kind = image.headers.get("Content-Type", "").split(";")[0].strip().lower()
        problem = None
        if image.status_code != 200:
            problem = f"fetching it answered HTTP {image.status_code}"
        elif kind not in IMAGE_TYPES:
            problem = f"it is {kind or 'of no stated type'}, not JPEG, PNG, GIF or WebP"
        elif len(image.content) > MAX_IMAGE_BYTES:
            problem = "it is larger than MAX's 50 MB"
        if problem is not None:
            log.warning("%s: the cover %s is not attached (%s); the post goes out without it", self.where, url, problem)
            return None
        return await self.upload("image", f"cover.{IMAGE_TYPES[kind]}", image.content, kind, "the cover")

    async def upload(self, kind: str, name: str, content: bytes, content_type: str, what: str) -> dict[str, Any]:
        """POST /uploads?type=`kind`, then the file to the URL it gives: the payload to attach (an image's, or a
        file's token). Nothing is published either way."""
        endpoint = await self.call("POST", "/uploads", params={"type": kind}, sending=False)
        upload_url = endpoint.get("url")
        if not isinstance(upload_url, str) or not upload_url.startswith(("https://", "http://")):
            raise TransientError(f"{self.where}: MAX gave no upload URL for {what}; nothing was sent")
        failure: PublishError
        try:
            # The upload URL carries its own authorisation: the bot's token does not go there.
            uploaded = await self.client.post(upload_url, files={"data": (name, content, content_type)})
        except httpx.HTTPError as exc:
            failure = self._network(exc, False, self.timeout)
        else:
            payload = json_object(uploaded.content)
            if uploaded.status_code == 200 and payload:
                return payload
            failure = TransientError(f"{self.where}: uploading {what} answered HTTP {uploaded.status_code}; "
                                     "nothing was sent")
        raise failure from None

    def _answer(self, response: httpx.Response, sending: bool) -> dict[str, Any]:
        answer = json_object(response.content)
        status = response.status_code
        if status == 200:
            if not answer and sending:
                raise OutcomeUnknown(f"{self.where}: unexpected answer from MAX (not JSON); "
                                     "the post may or may not have been published")
            if not answer:
                raise TransientError(f"{self.where}: unexpected answer from MAX (not JSON)")
            if answer.get("success") is False:  # SimpleQueryResult: an edit or a pin that did not happen
                raise PermanentError(f"{self.where}: MAX did not do it: {self._detail(answer)}")
            return answer
        code = str(answer.get("code") or "")
        detail = self._detail(answer) if answer else f"HTTP {status}"
        if status == 400 and code == "attachment.not.ready":
            raise _NotReady("the cover uploaded to MAX is still being processed")
        if status == 401:
            raise CredentialsError(f"{self.where}: MAX rejected the bot token ({detail}); check it at "
                                   "business.max.ru (Chat bots -> the bot -> Token)")
        if status == 403:
            raise Denied(f"{self.where}: the bot may not do this there ({detail}); make it an "
                         "administrator of the channel allowed to write, edit and pin")
        shared = http_error(status, where=self.where, platform="MAX", detail=detail,
                            retry_after=retry_after_header(response.headers.get("Retry-After"), time.time()),
                            default_wait=DEFAULT_RETRY_AFTER, default_why="MAX names no wait")
        if shared is not None:
            raise shared
        if status == 404:
            raise NotFound(f"{self.where}: MAX knows no such chat or message ({detail})")
        raise PermanentError(f"{self.where}: MAX refused it: {detail}")

    def _network(self, exc: httpx.HTTPError, sending: bool, timeout: float) -> PublishError:
        failure = transport_failure(exc)
        if failure is not None:
            return network_error(failure, where=self.where, platform="MAX", sending=sending, timeout=timeout)
        if sending:
            return OutcomeUnknown(f"{self.where}: the request failed ({type(exc).__name__}); "
                                  "the post may or may not have been published")
        return TransientError(f"{self.where}: the request failed ({type(exc).__name__})")

    def _detail(self, answer: dict[str, Any]) -> str:
        code, message = answer.get("code"), answer.get("message") or answer.get("error")
        text = f"{code}: {message}" if code and message else str(code or message or "no description")
        return self._scrub(text)[:300]

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text


class _NotReady(PublishError):
    """An attachment MAX has not processed yet (400 attachment.not.ready): nothing was published."""


class Denied(CredentialsError):
    """403: the bot may not write there (a channel it does not administer; a person who blocked it)."""


class NotFound(PermanentError):
    """404: MAX knows no such chat, person or message."""


class MaxAdapter(Adapter):
    """Sends each part of a post to the MAX channel `target.chat_id` in MAX's HTML: the first with the cover as an
    image attachment (a message's text may be as long with an image as without), the others replying to it."""

    spec = MAX

    def __init__(self, name: str, target: MaxTarget, sleep: Sleep = asyncio.sleep) -> None:
        self.name = name
        self.target = target
        self.api = MaxApi(target.secret("token") or "", target.api_base_url, target.timeout,
                          f"MAX target {name!r} (chat {target.chat_id})", target.ca_file, sleep)
        self._links: dict[str, str] = {}  # message id -> its public URL, as MAX gave it
        self._checked = False

    async def prepare(self) -> None:
        """GET /me once: the token works (it publishes nothing, so every failure here may be retried)."""
        if not self._checked:
            await self.api.call("GET", "/me", sending=False)
            self._checked = True

    async def publish(self, post: RenderedPost, parts: PartLog | None = None) -> Receipt:
        await self.prepare()
        image: dict[str, Any] | None = None
        if post.image and not (parts and parts.done):
            image = await self.api.upload_image(post.image)

        async def send(index: int, log: PartLog) -> str:
            body: dict[str, Any] = {"text": post.parts[index].text, "format": "html"}
            if index == 0 and image is not None:
                body["attachments"] = [{"type": "image", "payload": image}]
            if log.done:  # every part after the first replies to it, so that the parts read as one post
                body["link"] = {"type": "reply", "mid": log.done[0]}
            params: dict[str, Any] = {"chat_id": self.target.chat_id}
            if index > 0:
                params["disable_link_preview"] = "true"  # the first part previews the post's link
            message = await self.api.send(params, body)
            mid = str(message["body"]["mid"])
            if isinstance(message.get("url"), str):
                self._links[mid] = message["url"]
            return mid

        ids = await send_parts(post, parts, send, self._links.get)
        return self.receipt(ids, self._links.get(ids[0]))

    async def edit(self, ids: tuple[str, ...], post: RenderedPost, notice: RenderedPost | None) -> Receipt:
        """PUT /messages on each message the post went out as; its attachments (the cover) stay as they are."""
        for message_id, part in zip(ids, post.parts, strict=False):
            await self._edit(message_id, part.text)
        return self.receipt(ids, self._links.get(ids[0]))

    async def pin_live(self, message_id: str, text: str | None, caption: bool) -> None:
        """Point the announcement at the stream (when `text` is given) and pin it without a notification."""
        if text is not None:
            await self._edit(message_id, text)
        await self.api.call("PUT", f"/chats/{self.target.chat_id}/pin", body={"message_id": message_id,
                                                                             "notify": False}, sending=False)

    async def unpin(self, message_id: str) -> None:
        """Unpin the announcement, if it is still what is pinned (MAX unpins whatever is, by chat)."""
        path = f"/chats/{self.target.chat_id}/pin"
        pinned = await self.api.call("GET", path, sending=False)
        message = pinned.get("message")
        body = message.get("body") if isinstance(message, dict) else None
        if isinstance(body, dict) and body.get("mid") == message_id:
            await self.api.call("DELETE", path, sending=False)

    async def aclose(self) -> None:
        await self.api.aclose()

    async def _edit(self, message_id: str, text: str) -> None:
        # An edit repeated changes nothing: it is not "sending", and a lost answer may simply be retried.
        await self.api.call("PUT", "/messages", params={"message_id": message_id},
                            body={"text": text, "format": "html"}, sending=False)

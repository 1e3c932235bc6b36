"""Publishes to a VK community's wall with vk-api (`wall.post`), one wall post per part, each with a guid."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import jconfig
import requests
import vk_api
from vk_api.exceptions import ApiError, ApiHttpError

from bot.abc import Adapter, Metrics, PartLog, send_parts
from bot.adapters.transport import Reach, http_error, network_error, retry_after_header, transport_failure
from bot.config.settings import VkTarget
from bot.domain import Receipt, RenderedPost
from bot.errors import CredentialsError, OutcomeUnknown, PermanentError, PublishError, RateLimited, TransientError
from bot.platforms import VK

log = logging.getLogger(__name__)

# vk-api hard-codes this host in VkApi.method (`https://api.vk.ru/method/{method}`).
VK_API_HOST = "https://api.vk.ru"
USER_AGENT = "announce-bot"

# dev.vk.com/method/wall.post, `guid`: "a unique identifier meant to prevent sending the same post again;
# it holds for one hour". A repeat within the hour publishes nothing and answers with the first post's id.
GUID_WINDOW = 3600.0
# A repeat is sent only this long after the first uncertain call, leaving room for a slow answer and clocks.
GUID_SAFE = GUID_WINDOW - 600.0
# VK documents no wait for an HTTP 429 (its own limits come as errors 6, 9 and 29): a minute, unless the
# answer carries Retry-After.
DEFAULT_RETRY_AFTER = 60.0
# Error 9 says only "flood control"; VK publishes no duration. An hour keeps the bot from feeding the block.
FLOOD_CONTROL_WAIT = 3600.0
MAX_COVER_BYTES = 50 * 1024 * 1024  # dev.vk.com/api/upload: a photo of at most 50 MB

_ISSUE_TOKEN = (
    "create a community access token in the community's settings (Manage -> API usage -> Access tokens) "
    "with the wall and photos rights"
)
# VK's error codes (dev.vk.com/reference/errors) and what each means for us.
TOO_MANY_RPS = 6
FLOOD_CONTROL = 9
CAPTCHA = 14
RATE_LIMIT_REACHED = 29
CREDENTIAL_ERRORS: dict[int, str] = {
    5: f"VK rejected the access token (error 5: authorization failed; it was revoked or mistyped); {_ISSUE_TOKEN}",
    7: "the token lacks the right to post (error 7: permission denied); a community token needs the wall right "
    "(community -> Manage -> API usage -> Access tokens -> edit), a user token the wall and offline rights",
    14: "VK asks for a captcha (error 14), which a bot cannot solve: VK suspects automated posting from this "
    "token. Post once by hand in the community, or create a new community access token, then retry",
    15: "VK denied access (error 15). With a community token: give it the wall right (community -> Manage -> "
    "API usage -> Access tokens -> edit). With a user token: its user must be an administrator or editor of "
    "the community",
    17: "VK wants the token's user to confirm their account (error 17: validation required); "
    "sign in to VK in a browser, or switch to a community access token",
    27: "VK refused the community token for this call (error 27: method unavailable with group auth). Check "
    "that the token was created in this community's own settings (Manage -> API usage -> Access tokens) with "
    "the wall right; if VK still refuses, use a user token of a community administrator",
    203: "the token has no access to the community (error 203); check group_id, and that the token belongs "
    "to this community (or, for a user token, that its user is an administrator)",
    214: "posting on this wall is denied (error 214); check the community's wall settings "
    "and that the token may post there",
}
TRANSIENT_ERRORS = frozenset({1, 10})  # unknown error, internal server error


class _Session(requests.Session):
    """A session that applies a timeout to every request and can send VK's API calls elsewhere."""

    def __init__(self, timeout: float, base_url: str | None) -> None:
        super().__init__()
        self.timeout = timeout
        self.base_url = base_url.rstrip("/") if base_url else None
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if isinstance(url, bytes):
            url = url.decode()
        if self.base_url and url.startswith(VK_API_HOST + "/"):
            url = self.base_url + url[len(VK_API_HOST) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)


class _NoPhoto(Exception):
    """Why the cover could not be attached as a photo, in our own words."""


class VkAdapter(Adapter):
    """Posts on the wall of community `group_id` on its behalf (`from_group=1`), with a community access token
    (a user token of an administrator works too). A cover image is uploaded as a photo when VK allows it."""

    spec = VK
    idempotent = True  # every wall.post carries a guid: VK ignores a repeat within the hour

    def __init__(self, name: str, target: VkTarget, clock: Callable[[], float] = time.monotonic) -> None:
        token = target.secret("token")
        if token is None:
            raise CredentialsError(f"VK target {name!r} has no token")
        self.name = name
        self.group_id = target.group_id
        self.timeout = target.timeout
        self._token = token
        self._clock = clock
        # guid -> when a wall.post with it first went unanswered: a repeat is safe only within VK's hour.
        self._unanswered: dict[str, float] = {}
        self._session = _Session(target.timeout, target.api_base_url)
        self._vk: Any = vk_api.VkApi(
            token=token,
            api_version=target.api_version,
            session=self._session,
            config=jconfig.MemoryConfig,  # the default Config reads vk_config.v2.json from the working dir
        )
        # vk-api's own handlers sleep and retry error 6 without limit, and turn error 14 into an
        # exception that needs a person to solve the captcha: we map every error ourselves instead.
        self._vk.error_handlers.clear()
        service = target.secret("service_token")
        self._tokens = [token, *([service] if service else [])]  # scrubbed from every error text
        self._reader: Any = self._vk
        if service:  # wall.getById is documented for user and service tokens, not a community's
            self._reader = vk_api.VkApi(token=service, api_version=target.api_version, session=self._session,
                                        config=jconfig.MemoryConfig)
            self._reader.error_handlers.clear()

    async def publish(self, post: RenderedPost, parts: PartLog | None = None) -> Receipt:
        async def send(index: int, log: PartLog) -> str:
            guid = hashlib.sha256(f"{log.key}/{index}".encode()).hexdigest()[:32]
            first = self._unanswered.get(guid)
            if first is not None and self._clock() - first > GUID_SAFE:
                raise OutcomeUnknown(
                    f"{self._where}: wall post {index + 1} of {len(post.parts)} went unanswered "
                    f"{(self._clock() - first) / 60:.0f} min ago and VK's guid prevents a repeat only within "
                    "an hour; it may or may not have been published, so it is not sent again"
                )
            values: dict[str, Any] = {
                "owner_id": -self.group_id,
                "from_group": 1,
                "message": post.parts[index].text,
                "guid": guid,
            }
            if index == 0 and (attachments := await self._attachments(post)):
                values["attachments"] = attachments
            return await self._wall_post(values, guid)

        ids = await send_parts(post, parts, send, self._link, "wall posts")
        return self.receipt(ids, self._link(ids[0]))

    async def edit(self, ids: tuple[str, ...], post: RenderedPost, notice: RenderedPost | None) -> Receipt:
        """wall.edit of each wall post; where the token may not edit (a community token often may not), the change
        notice goes out as a comment under the first one instead (wall.createComment accepts community tokens)."""
        try:
            for wall_id, part in zip(ids, post.parts, strict=False):
                owner, _, number = wall_id.partition("_")
                await self._call("wall.edit", {"owner_id": int(owner), "post_id": int(number),
                                               "message": part.text})
            return self.receipt(ids, self._link(ids[0]))
        except CredentialsError as refused:
            if notice is None or not notice.parts:
                raise
            log.info("%s: editing refused (%s); the change notice goes out as a comment", self._where, refused)
        owner, _, number = ids[0].partition("_")
        answer = await self._call("wall.createComment", {"owner_id": int(owner), "post_id": int(number),
                                                         "from_group": self.group_id, "message": notice.parts[0].text},
                                  publishes=True)
        comment = answer.get("comment_id") if isinstance(answer, dict) else None
        return self.receipt((f"{ids[0]}?reply={comment}" if comment else ids[0],), self._link(ids[0]))

    async def _call(self, method: str, values: dict[str, Any], *, publishes: bool = False) -> Any:
        """A VK call other than wall.post: an edit (a repeat changes nothing), or a comment (`publishes`: after a
        dropped answer it may be there already, so it is not blindly repeated)."""
        failure: PublishError
        try:
            return await asyncio.to_thread(self._vk.method, method, values)
        except (vk_api.VkApiError, requests.RequestException) as exc:
            failure = self._error(exc, sending=publishes)
        raise failure from None

    read_batch = 100  # wall.getById's `posts`: up to 100 "{owner_id}_{post_id}" a call

    async def read_reach(self, ids: Sequence[str]) -> dict[str, Metrics]:
        """wall.getById (dev.vk.com/method/wall.getById): each post's views.count, likes.count, reposts.count and
        comments.count. VK gives no reach here: stats.getPostReach needs a user token with the stats right, which VK
        no longer grants new apps."""
        failure: PublishError
        try:
            answer = await asyncio.to_thread(self._reader.method, "wall.getById", {"posts": ",".join(ids)})
        except (vk_api.VkApiError, requests.RequestException) as exc:
            failure = self._read_error(exc)
        else:
            # Version 5.199 answers {"items": [...]}; versions before 5.137 answered the list itself.
            items = answer.get("items") if isinstance(answer, dict) else answer
            if isinstance(items, list):
                return {f"{item.get('owner_id')}_{item.get('id')}": _wall_metrics(item)
                        for item in items if isinstance(item, dict) and "id" in item}
            failure = TransientError(f"{self._where}: VK answered wall.getById without its items")
        raise failure from None

    def _read_error(self, exc: Exception) -> PublishError:
        if isinstance(exc, ApiError) and exc.code in (5, 15, 27):
            return CredentialsError(
                f"{self._where}: VK refused to read the posts back (error {exc.code}); wall.getById is documented for "
                "user and service tokens: set service_token (the VK app's service key, vk.com/apps?act=manage -> "
                "the app -> Settings) for reading")
        return self._error(exc, sending=False)

    async def aclose(self) -> None:
        self._session.close()

    async def _wall_post(self, values: dict[str, Any], guid: str) -> str:
        started = self._clock()
        failure: PublishError
        try:
            answer = await asyncio.to_thread(self._vk.method, "wall.post", values)
        except (vk_api.VkApiError, requests.RequestException) as exc:
            gone = transport_failure(exc)
            if not isinstance(exc, ApiError) and not (gone is not None and gone.reach is Reach.NOT_SENT):
                # VK may have published it (no answer, a 5xx, an unreadable one): its hour counts from here.
                self._unanswered.setdefault(guid, started)
            failure = self._error(exc, sending=True)
        else:
            post_id = answer.get("post_id") if isinstance(answer, dict) else None
            if post_id is not None:
                self._unanswered.pop(guid, None)
                return f"-{self.group_id}_{post_id}"
            failure = PermanentError(f"{self._where}: VK answered wall.post without a post_id")
        # Raised outside the except block so that the SDK's exception, which holds the request's
        # values with the access token, is not kept as the context of ours.
        raise failure from None

    async def _attachments(self, post: RenderedPost) -> str | None:
        """The first wall post's attachments: the cover as a photo when it can be uploaded, and the link."""
        if not post.image:
            return post.link
        try:
            photo = await asyncio.to_thread(self._upload_cover, post.image)
        except _NoPhoto as reason:
            log.warning("%s: the cover is not attached as a photo (%s); the post carries %s instead",
                        self._where, reason, "the event's link" if post.link else "no attachment")
            return post.link
        log.info("%s: the cover is attached as photo %s", self._where, photo)
        return f"{photo},{post.link}" if post.link else photo

    def _upload_cover(self, url: str) -> str:
        """Upload the image at `url` through the messages photo path, the one a community token may use
        (photos.getWallUploadServer answers error 27 to it); return the attachment `photo{owner}_{id}`."""
        if not url.startswith(("https://", "http://")):
            raise _NoPhoto(f"the cover {url!r} is not an http(s) URL")
        try:
            image = self._session.get(url)
            if image.status_code != 200:
                raise _NoPhoto(f"fetching the cover answered HTTP {image.status_code}")
            kind = image.headers.get("Content-Type", "").split(";")[0].strip()
            if kind not in ("image/jpeg", "image/png", "image/gif"):
                raise _NoPhoto(f"the cover is {kind or 'of no stated type'}, not JPEG, PNG or GIF")
            if len(image.content) > MAX_COVER_BYTES:
                raise _NoPhoto("the cover is larger than VK's 50 MB")
            server = self._vk.method("photos.getMessagesUploadServer", {})
            extension = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif"}[kind]
            uploaded = self._session.post(
                str(server["upload_url"]), files={"photo": (f"cover.{extension}", image.content, kind)}
            ).json()
            saved = self._vk.method("photos.saveMessagesPhoto", {
                "photo": uploaded.get("photo"), "server": uploaded.get("server"), "hash": uploaded.get("hash"),
            })
        except ApiError as exc:
            raise _NoPhoto(f"VK refused it: error {exc.code}, {self._scrub(str(exc.error.get('error_msg')))[:200]}") \
                from None
        except (vk_api.VkApiError, requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise _NoPhoto(f"the upload failed: {type(exc).__name__}") from None
        if not isinstance(saved, list) or not saved or not isinstance(saved[0], dict) or "id" not in saved[0]:
            raise _NoPhoto("VK saved no photo")
        photo = saved[0]
        key = f"_{photo['access_key']}" if photo.get("access_key") else ""
        return f"photo{photo['owner_id']}_{photo['id']}{key}"

    def _link(self, wall_id: str) -> str:
        return f"https://vk.com/wall{wall_id}"

    @property
    def _where(self) -> str:
        return f"VK target {self.name!r} (community {self.group_id})"

    def _error(self, exc: Exception, sending: bool) -> PublishError:
        """Our error for an SDK or network failure, in our own words (vk-api's carry the token)."""
        where = self._where
        if isinstance(exc, ApiError):
            return self._api_error(exc.code, exc.error)
        if isinstance(exc, ApiHttpError):
            response = exc.response
            retry_after = retry_after_header(response.headers.get("Retry-After"), time.time())
            shared = http_error(response.status_code, where=where, platform="VK", detail=response.reason or "",
                                retry_after=retry_after, default_wait=DEFAULT_RETRY_AFTER,
                                default_why="VK documents no wait for HTTP 429")
            return shared or PermanentError(f"{where}: VK answered HTTP {response.status_code} to wall.post")
        if (failure := transport_failure(exc)) is not None:
            return network_error(failure, where=where, platform="VK", sending=sending, timeout=self.timeout,
                                 repeat_safe="a retry within the hour is safe: VK ignores a repeated wall.post "
                                 "with the same guid")
        if isinstance(exc, requests.JSONDecodeError):
            return TransientError(f"{where}: VK answered with something that is not JSON")
        return PermanentError(f"{where}: VK request failed ({type(exc).__name__})")

    def _api_error(self, code: int, error: dict[str, Any]) -> PublishError:
        where = self._where
        if code == TOO_MANY_RPS:
            return RateLimited(f"{where}: VK: too many requests per second (error 6); waiting 1 s", retry_after=1.0)
        if code == FLOOD_CONTROL:
            return RateLimited(
                f"{where}: VK flood control (error 9): VK refuses more posts like these for now; "
                f"waiting {FLOOD_CONTROL_WAIT / 3600:g} hour before trying again",
                retry_after=FLOOD_CONTROL_WAIT,
            )
        if code == RATE_LIMIT_REACHED:
            return RateLimited(f"{where}: VK: the daily limit of wall.post calls is reached (error 29); "
                               "waiting 1 hour", retry_after=3600.0)
        if code in CREDENTIAL_ERRORS:
            return CredentialsError(f"{where}: {CREDENTIAL_ERRORS[code]}")
        reason = self._scrub(str(error.get("error_msg") or "no reason given"))[:300]
        if code in TRANSIENT_ERRORS:
            return TransientError(f"{where}: VK error {code}: {reason}")
        return PermanentError(f"{where}: VK refused the post (error {code}: {reason})")

    def _scrub(self, text: str) -> str:
        for token in self._tokens:
            text = text.replace(token, "***")
        return text


def _wall_metrics(item: dict[str, Any]) -> Metrics:
    """A wall post's counters (wall_wallpost_full in VK's schema: views, likes, reposts and comments, each `count`)."""
    found: Metrics = {}
    for name in ("views", "likes", "reposts", "comments"):
        part = item.get(name)
        if isinstance(part, dict) and isinstance(part.get("count"), int):
            found[name] = part["count"]
    return found

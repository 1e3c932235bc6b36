"""Publishes to a VK community's wall with vk-api (`wall.post`), one wall post per part."""

from __future__ import annotations

import asyncio
from typing import Any

import jconfig
import requests
import vk_api
from vk_api.exceptions import ApiError, ApiHttpError

from bot.abc import Adapter, PartLog
from bot.config.settings import VkTarget
from bot.domain import Receipt, RenderedPost
from bot.errors import CredentialsError, OutcomeUnknown, PermanentError, PublishError, RateLimited, TransientError
from bot.platforms import VK

# vk-api hard-codes this host in VkApi.method (`https://api.vk.ru/method/{method}`).
VK_API_HOST = "https://api.vk.ru"
USER_AGENT = "announce-bot"

# VK's error codes (dev.vk.com/reference/errors) and what each means for us.
TOO_MANY_RPS = 6
FLOOD_CONTROL = 9
CAPTCHA = 14
RATE_LIMIT_REACHED = 29
CREDENTIAL_ERRORS: dict[int, str] = {
    5: "VK rejected the access token (error 5: authorization failed); issue a new token",
    7: "the token lacks the right to post (error 7: permission denied); it needs the wall and offline rights",
    15: "the token's user may not post on this wall (error 15: access denied); "
    "make them an administrator or editor of the community",
    17: "VK wants the token's user to confirm their account (error 17: validation required); "
    "sign in to VK in a browser and issue a new token",
    27: "a community token cannot post on the wall (error 27); "
    "use a community admin's user token with the wall and offline rights",
    203: "the token's user has no access to the community (error 203)",
    214: "posting on this wall is denied (error 214); check the community's wall settings "
    "and that the token's user is an administrator or editor",
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


class VkAdapter(Adapter):
    """Posts on the wall of community `group_id` on its behalf (`from_group=1`), with a user access token."""

    spec = VK

    def __init__(self, name: str, target: VkTarget) -> None:
        token = target.secret("token")
        if token is None:
            raise CredentialsError(f"VK target {name!r} has no token")
        self.name = name
        self.group_id = target.group_id
        self._token = token
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

    async def publish(self, post: RenderedPost, parts: PartLog | None = None) -> Receipt:
        ids: list[str] = []
        error: PublishError | None = None
        for index, part in enumerate(post.parts):
            values: dict[str, Any] = {
                "owner_id": -self.group_id,
                "from_group": 1,
                "message": part.text,
            }
            if index == 0 and post.link:
                values["attachments"] = post.link
            try:
                answer = await asyncio.to_thread(self._vk.method, "wall.post", values)
            except (vk_api.VkApiError, requests.RequestException) as exc:
                error = self._error(exc)
            else:
                post_id = answer.get("post_id") if isinstance(answer, dict) else None
                if post_id is None:
                    error = PermanentError("VK answered wall.post without a post_id")
                else:
                    ids.append(f"-{self.group_id}_{post_id}")
                    continue
            break
        if error is not None:
            # Raised outside the except block so that the SDK's exception, which holds the request's
            # values with the access token, is not kept as the context of ours.
            if ids:
                error = self.partial_failure(error, ids, len(post.parts), self._link(ids[0]), "wall posts")
            raise error from None
        return Receipt(
            platform=self.spec.platform,
            target=self.name,
            post_id=ids[0],
            link=self._link(ids[0]),
            extra_ids=tuple(ids[1:]),
        )

    async def aclose(self) -> None:
        self._session.close()

    def _link(self, wall_id: str) -> str:
        return f"https://vk.com/wall{wall_id}"

    def _error(self, exc: Exception) -> PublishError:
        """Our error for an SDK or network failure, in our own words (vk-api's carry the token)."""
        if isinstance(exc, ApiError):
            return self._api_error(exc.code, exc.error)
        if isinstance(exc, ApiHttpError):
            status = exc.response.status_code
            if status == 429:
                return RateLimited("VK answered HTTP 429 (too many requests)", retry_after=60.0)
            if status >= 500:
                return TransientError(f"VK answered HTTP {status}; try again later")
            return PermanentError(f"VK answered HTTP {status} to wall.post")
        if isinstance(exc, requests.ReadTimeout):
            # The request went out: VK may have published it, so a retry could publish it twice.
            return OutcomeUnknown("VK did not answer in time; the post may or may not have been published")
        if isinstance(exc, requests.Timeout):
            return TransientError("VK did not answer in time")
        if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return TransientError("cannot reach VK (connection failed or dropped)")
        if isinstance(exc, requests.JSONDecodeError):
            return TransientError("VK answered with something that is not JSON")
        return PermanentError(f"VK request failed ({type(exc).__name__})")

    def _api_error(self, code: int, error: dict[str, Any]) -> PublishError:
        if code == TOO_MANY_RPS:
            return RateLimited("VK: too many requests per second (error 6)", retry_after=1.0)
        if code == FLOOD_CONTROL:
            return RateLimited("VK flood control: too many identical or frequent posts (error 9)", retry_after=3600.0)
        if code == RATE_LIMIT_REACHED:
            return RateLimited("VK: the daily limit of wall.post calls is reached (error 29)", retry_after=3600.0)
        if code == CAPTCHA:
            return TransientError(
                "VK asks for a captcha (error 14): a person must post once by hand on this account, or wait"
            )
        if code in CREDENTIAL_ERRORS:
            return CredentialsError(f"VK: {CREDENTIAL_ERRORS[code]}")
        reason = self._scrub(str(error.get("error_msg") or "no reason given"))[:300]
        if code in TRANSIENT_ERRORS:
            return TransientError(f"VK error {code}: {reason}")
        return PermanentError(f"VK refused the post (error {code}: {reason})")

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***")

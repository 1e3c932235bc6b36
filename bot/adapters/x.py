"""Publishes to X with tweepy (API v2 `POST /2/tweets`, OAuth 1.0a user context), a thread for several parts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests.utils import should_bypass_proxies

from bot.abc import Adapter, Metrics, PartLog, send_parts
from bot.adapters.transport import http_error, network_error, transport_failure
from bot.config.settings import XTarget
from bot.domain import Receipt, RenderedPost
from bot.errors import CredentialsError, OutcomeUnknown, PermanentError, PublishError, RateLimited, TransientError
from bot.platforms import X

# tweepy hard-codes this host in BaseClient.request.
X_API_HOST = "https://api.twitter.com"
# POST /2/tweets allows 100 requests per 15 minutes per user (docs.x.com rate limits); its 429 carries
# x-rate-limit-reset. Without one, wait the whole window: it has surely reset by then.
DEFAULT_RETRY_AFTER = 900.0

# public_metrics (docs.x.com, data dictionary: Post) by the names the report uses.
_PUBLIC_METRICS = {"impression_count": "impressions", "like_count": "likes", "retweet_count": "reposts",
                   "reply_count": "replies", "quote_count": "quotes", "bookmark_count": "bookmarks"}

# These libraries log the OAuth consumer key and access token at DEBUG while signing requests.
_CHATTY_LOGGERS = ("requests_oauthlib.oauth1_auth", "oauthlib", "oauthlib.oauth1.rfc5849")


class _ScrubSecrets(logging.Filter):
    """Replaces our secrets in log records of the loggers it is attached to."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


class _Redirect(HTTPAdapter):
    """Applies the timeout, and sends requests for X's host to `base_url` (after OAuth signed them)."""

    def __init__(self, timeout: float, base_url: str | None) -> None:
        super().__init__()
        self.timeout = timeout
        self.base_url = base_url.rstrip("/") if base_url else None

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        url = request.url or ""
        if self.base_url and url.startswith(X_API_HOST + "/"):
            request.url = self.base_url + url[len(X_API_HOST) :]
            # The session chose proxies for X's host; the new host may be one NO_PROXY exempts.
            if should_bypass_proxies(request.url, no_proxy=None):
                kwargs["proxies"] = {}
        return super().send(request, *args, **kwargs)


class XAdapter(Adapter):
    """Posts from one X account; a post of several parts becomes a thread of replies."""

    spec = X

    def __init__(self, name: str, target: XTarget, clock: Callable[[], float] = time.time) -> None:
        secrets = {key: target.secret(key) for key in XTarget.secret_fields}
        missing = [key for key, value in secrets.items() if value is None]
        if missing:
            raise CredentialsError(f"X target {name!r} lacks {', '.join(missing)}")
        self.name = name
        self.username = target.username or "i/web"
        self.timeout = target.timeout
        self._clock = clock  # Unix seconds, to turn x-rate-limit-reset into a wait
        self._client: Any = tweepy.Client(
            consumer_key=secrets["consumer_key"],
            consumer_secret=secrets["consumer_secret"],
            access_token=secrets["access_token"],
            access_token_secret=secrets["access_token_secret"],
            wait_on_rate_limit=False,  # True sleeps inside the call, and retries at once without a reset time
        )
        self._client.session.mount(X_API_HOST, _Redirect(target.timeout, target.api_base_url))
        self._filter = _ScrubSecrets([value for value in secrets.values() if value])
        for logger in _CHATTY_LOGGERS:
            logging.getLogger(logger).addFilter(self._filter)

    async def publish(self, post: RenderedPost, parts: PartLog | None = None) -> Receipt:
        async def send(index: int, log: PartLog) -> str:
            reply_to = log.done[-1] if log.done else None  # a thread: each tweet replies to the one before
            failure: PublishError
            try:
                tweet_id = await asyncio.to_thread(self._create_tweet, post.parts[index].text, reply_to)
            except (tweepy.TweepyException, requests.RequestException) as exc:
                failure = self._error(exc)
            else:
                if tweet_id:
                    return tweet_id
                failure = PermanentError(f"{self._where}: X answered POST /2/tweets without a tweet id")
            # Raised outside the except block, so no SDK exception (with the signed request) rides along.
            raise failure from None

        ids = await send_parts(post, parts, send, self._link, "tweets of the thread")
        return self.receipt(ids, self._link(ids[0]))

    async def edit(self, ids: tuple[str, ...], post: RenderedPost, notice: RenderedPost | None) -> Receipt:
        """X's API cannot edit a post: the change notice goes out as a reply to the thread's last tweet."""
        if notice is None or not notice.parts:
            raise PermanentError(f"{self._where}: X cannot edit a post, and there is no notice to reply with")
        failure: PublishError
        try:
            tweet_id = await asyncio.to_thread(self._create_tweet, notice.parts[0].text, ids[-1])
        except (tweepy.TweepyException, requests.RequestException) as exc:
            failure = self._error(exc)
        else:
            if tweet_id:
                return self.receipt((tweet_id,), self._link(tweet_id))
            failure = PermanentError(f"{self._where}: X answered POST /2/tweets without a tweet id")
        raise failure from None

    read_batch = 100  # GET /2/tweets: up to 100 ids a request

    async def read_reach(self, ids: Sequence[str]) -> dict[str, Metrics]:
        """GET /2/tweets?ids=…&tweet.fields=public_metrics (docs.x.com, post lookup): impressions, likes, reposts,
        replies, quotes and bookmarks. X bills each post returned (the caller counts what came back)."""
        failure: PublishError
        try:
            response = await asyncio.to_thread(self._client.get_tweets, ids=list(ids), tweet_fields=["public_metrics"],
                                               user_auth=True)
        except (tweepy.TweepyException, requests.RequestException) as exc:
            failure = self._read_error(exc)
        else:
            found: dict[str, Metrics] = {}
            for tweet in getattr(response, "data", None) or []:  # a deleted post comes back in `errors` instead
                metrics = getattr(tweet, "public_metrics", None) or {}
                found[str(tweet.id)] = {name: int(metrics[key]) for key, name in _PUBLIC_METRICS.items()
                                        if isinstance(metrics.get(key), int)}
            return found
        raise failure from None

    def _read_error(self, exc: Exception) -> PublishError:
        if isinstance(exc, tweepy.TooManyRequests | tweepy.TwitterServerError) or not isinstance(
                exc, tweepy.HTTPException):
            return self._error(exc, sending=False)  # waits as X says; a read is safe to repeat
        status = exc.response.status_code
        if status in (401, 403):
            return CredentialsError(f"{self._where}: X refused to read the posts back (HTTP {status}): "
                                    f"{self._reason(exc)}")
        return PermanentError(f"{self._where}: X answered HTTP {status} to GET /2/tweets: {self._reason(exc)}")

    async def aclose(self) -> None:
        self._client.session.close()
        for logger in _CHATTY_LOGGERS:
            logging.getLogger(logger).removeFilter(self._filter)

    def _link(self, tweet_id: str) -> str:
        return f"https://x.com/{self.username}/status/{tweet_id}"

    def _create_tweet(self, text: str, reply_to: str | None) -> str | None:
        response = self._client.create_tweet(text=text, in_reply_to_tweet_id=reply_to, user_auth=True)
        data = response.data if response is not None else None
        tweet_id = data.get("id") if isinstance(data, dict) else None
        return str(tweet_id) if tweet_id else None

    @property
    def _where(self) -> str:
        return f"X target {self.name!r} (@{self.username})"

    def _error(self, exc: Exception, sending: bool = True) -> PublishError:
        """Our error for an SDK or network failure, in our own words (`sending`: the call publishes)."""
        where = self._where
        if isinstance(exc, tweepy.TooManyRequests):
            reset = exc.response.headers.get("x-rate-limit-reset")
            try:
                wait = max(1.0, float(reset) - self._clock()) if reset else None
            except ValueError:
                wait = None
            if wait is not None:
                return RateLimited(f"{where}: X rate limit reached (HTTP 429); it resets in {wait:.0f} s", wait)
        if isinstance(exc, tweepy.HTTPException):
            shared = http_error(exc.response.status_code, where=where, platform="X", detail=self._reason(exc),
                                retry_after=None, default_wait=DEFAULT_RETRY_AFTER,
                                default_why="X's rate-limit window for posting is 15 minutes")
            if shared is not None:
                return shared
        if isinstance(exc, tweepy.Forbidden):
            if "duplicate" in self._reason(exc).lower():
                return PermanentError(f"{where}: X refused a duplicate tweet (the same text was posted already)")
            return CredentialsError(
                f"{where}: X refused the post (HTTP 403): the app or the account lacks write access, or is "
                "suspended; give the app 'Read and write' and regenerate the access token and secret"
            )
        if isinstance(exc, tweepy.Unauthorized):
            return CredentialsError(f"{where}: X rejected the credentials (HTTP 401): check the four OAuth 1.0a keys")
        if isinstance(exc, tweepy.BadRequest):
            return PermanentError(f"{where}: X refused the tweet (HTTP 400): {self._reason(exc)}")
        if isinstance(exc, tweepy.HTTPException):
            return PermanentError(f"{where}: X answered HTTP {exc.response.status_code} to POST /2/tweets")
        if (failure := transport_failure(exc)) is not None:
            return network_error(failure, where=where, platform="X", sending=sending, timeout=self.timeout)
        if isinstance(exc, requests.JSONDecodeError) and not sending:
            return TransientError(f"{where}: X answered with something that is not JSON")
        if isinstance(exc, requests.JSONDecodeError):
            # Its status was 2xx: X may have posted the tweet.
            return OutcomeUnknown(f"{where}: X answered with something that is not JSON; "
                                  "the tweet may or may not have been published")
        return PermanentError(f"{where}: X request failed ({type(exc).__name__})")

    def _reason(self, exc: tweepy.HTTPException) -> str:
        """X's own words: its error messages, or the problem's `detail` (tweepy collects both)."""
        reason = "; ".join(str(message) for message in exc.api_messages)
        reason = reason or str(exc.response.reason or "no reason given")
        for secret in self._filter.secrets:
            reason = reason.replace(secret, "***")
        return reason[:300]

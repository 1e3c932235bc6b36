"""A loopback fake of X's API v2 `POST /2/tweets` and `GET /2/tweets` (post lookup): checks OAuth 1.0a and length,
records tweets, answers their public metrics, counts the posts read (X bills each), scripts faults."""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import signature
from twitter_text import parse_tweet

from tests.fakes.base import Reply, Request, ScriptedFaults

# The URL tweepy signs: OAuth 1.0a signs X's own address, and the adapter redirects the request afterwards.
SIGNED_URL = "https://api.twitter.com/2/tweets"
_OAUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class Tweet:
    """One tweet as the fake accepted it, and its public metrics (a test sets them: people saw it)."""

    id: str
    text: str
    in_reply_to: str | None
    body: dict[str, Any]
    metrics: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("retweet_count", "reply_count", "like_count", "quote_count", "bookmark_count", "impression_count"), 0))


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    """X's error body (an RFC 7807 problem)."""
    return {"title": title, "type": "about:blank", "status": status, "detail": detail}


class FakeX(ScriptedFaults):
    """Answers `POST /2/tweets` like X: 201 with `{"data": {"id", "text"}}`.

    With all four secrets given, it also checks the OAuth 1.0a HMAC-SHA1 signature. Length is X's weighted
    count (docs.x.com counting-characters), computed by twitter-text, X's own published library; a reply
    must name a tweet the account posted. `clock` (Unix seconds) dates the 429's x-rate-limit-reset.
    """

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str | None = None,
        access_token: str | None = None,
        access_token_secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.access_token = access_token
        self.access_token_secret = access_token_secret
        self.tweets: list[Tweet] = []
        self.problems: list[str] = []
        self.read: list[str] = []  # every post a lookup returned: what X bills ($0.005 each, pay-per-use)
        self._next_id = 1_860_000_000_000_000_000

    def handle(self, request: Request) -> Reply:
        if request.path != "/2/tweets" or request.method not in ("GET", "POST"):
            return self._refuse(404, "Not Found", f"no route {request.method} {request.path}")
        query = request.params if request.method == "GET" else {}
        trouble = self._check_oauth(request.headers.get("authorization", ""), request.method, query)
        if trouble:
            return self._refuse(401, "Unauthorized", trouble)
        if request.method == "GET":
            return self._lookup(request.params)
        text = request.params.get("text")
        if not isinstance(text, str) or not text:
            return self._refuse(400, "Invalid Request", "text is missing")
        length = int(parse_tweet(text).weightedLength)
        if length > 280:
            return self._refuse(400, "Invalid Request", f"Your Tweet text is too long ({length} > 280).")
        reply = request.params.get("reply")
        in_reply_to = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        with self._lock:
            if in_reply_to is not None and in_reply_to not in {tweet.id for tweet in self.tweets}:
                self.problems.append(f"reply to unknown tweet {in_reply_to}")
                return Reply(status=400, body=problem(400, "Invalid Request", "reply to an unknown tweet"))
            self._next_id += 1
            tweet = Tweet(id=str(self._next_id), text=text, in_reply_to=in_reply_to, body=dict(request.params))
            self.tweets.append(tweet)
        return Reply(status=201, body={"data": {"id": tweet.id, "text": tweet.text}})

    def _lookup(self, params: dict[str, Any]) -> Reply:
        """GET /2/tweets (docs.x.com, post lookup by ids): `ids` comma-separated, 1 to 100; `tweet.fields`
        asks for more than id and text (public_metrics). A post the account does not have comes back in `errors`."""
        ids = [item for item in str(params.get("ids") or "").split(",") if item]
        if not ids or len(ids) > 100 or not all(item.isdigit() for item in ids):
            return self._refuse(400, "Invalid Request", "The `ids` query parameter value must be 1 to 100 ids")
        fields = str(params.get("tweet.fields") or "").split(",")
        data, errors = [], []
        with self._lock:
            known = {tweet.id: tweet for tweet in self.tweets}
            for item in ids:
                tweet = known.get(item)
                if tweet is None:
                    errors.append({"value": item, "detail": f"Could not find tweet with ids: [{item}].",
                                   "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                                   "resource_id": item,
                                   "type": "https://api.twitter.com/2/problems/resource-not-found"})
                    continue
                found: dict[str, Any] = {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
                if "public_metrics" in fields:
                    found["public_metrics"] = dict(tweet.metrics)
                data.append(found)
                self.read.append(tweet.id)
        body: dict[str, Any] = {"data": data} if data else {}
        if errors:
            body["errors"] = errors
        return Reply(status=200, body=body)

    def _check_oauth(self, header: str, method: str = "POST", query: dict[str, Any] | None = None) -> str | None:
        if not header.startswith("OAuth "):
            return "no OAuth 1.0a Authorization header"
        oauth = {key: unquote(value) for key, value in _OAUTH_PARAM.findall(header)}
        if oauth.get("oauth_consumer_key") != self.consumer_key:
            return "wrong oauth_consumer_key"
        if not oauth.get("oauth_signature") or not oauth.get("oauth_token"):
            return "oauth_signature or oauth_token missing"
        if self.access_token is not None and oauth["oauth_token"] != self.access_token:
            return "wrong oauth_token"
        if self.consumer_secret is not None and self.access_token_secret is not None:
            params = signature.collect_parameters(uri_query=urlencode(query or {}), headers={"Authorization": header},
                                                  exclude_oauth_signature=True)
            base = signature.signature_base_string(
                method, signature.base_string_uri(SIGNED_URL), signature.normalize_parameters(params)
            )
            keys = Client(self.consumer_key, self.consumer_secret, resource_owner_secret=self.access_token_secret)
            expected = signature.sign_hmac_sha1_with_client(base, keys)
            if not hmac.compare_digest(expected, oauth["oauth_signature"]):
                return "bad oauth_signature"
        return None

    def _refuse(self, status: int, title: str, detail: str) -> Reply:
        with self._lock:
            self.problems.append(f"{status}: {detail}")
        return Reply(status=status, body=problem(status, title, detail))

    # More scripted faults (ScriptedFaults has the network ones: slow, drop, record_then_drop, reset, ...).

    def rate_limited(self, reset_in: float | None = 900, times: int = 1, at: int | None = None) -> None:
        headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0"}
        if reset_in is not None:
            headers["x-rate-limit-reset"] = str(int(self.clock() + reset_in))
        body = problem(429, "Too Many Requests", "Too Many Requests")
        self._script(Reply(status=429, body=body, headers=headers), times, at)

    def duplicate(self, times: int = 1, at: int | None = None) -> None:
        detail = "You are not allowed to create a Tweet with duplicate content."
        self._script(Reply(status=403, body=problem(403, "Forbidden", detail)), times, at)

    def forbidden(self, times: int = 1, at: int | None = None) -> None:
        detail = "You are not permitted to perform this action."
        self._script(Reply(status=403, body=problem(403, "Forbidden", detail)), times, at)

    def unauthorized(self, times: int = 1, at: int | None = None) -> None:
        self._script(Reply(status=401, body=problem(401, "Unauthorized", "Unauthorized")), times, at)

    def bad_request(self, detail: str = "Invalid Request", times: int = 1, at: int | None = None) -> None:
        body = {"errors": [{"message": detail}], "title": "Invalid Request", "detail": detail, "status": 400}
        self._script(Reply(status=400, body=body), times, at)

    def server_error(self, status: int = 503, times: int = 1, at: int | None = None) -> None:
        self._script(
            Reply(status=status, body=problem(status, "Service Unavailable", "Service Unavailable")), times, at
        )

"""The X adapter, driven through the real tweepy against a loopback fake of X's API v2."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from pydantic import SecretStr

from bot.abc import MemoryParts
from bot.adapters.x import XAdapter
from bot.config.settings import XTarget
from bot.domain import Event, RenderedPost
from bot.errors import CredentialsError, OutcomeUnknown, PermanentError, PublishError, RateLimited, TransientError
from bot.platforms import x_weighted_length
from tests.fakes.x import FakeX

SECRETS = {
    "consumer_key": "x-consumer-key-1f2e",
    "consumer_secret": "x-consumer-secret-3d4c",
    "access_token": "12345-x-access-token-5b6a",
    "access_token_secret": "x-access-token-secret-7980",
}
NOW = 1_800_000_000.0  # Unix time, as the fake dates x-rate-limit-reset and the adapter reads it


@pytest.fixture
def fake() -> Iterator[FakeX]:
    server = FakeX(**SECRETS, clock=lambda: NOW)  # checks the OAuth 1.0a signature with all four
    server.start()
    yield server
    server.stop()


def target(
    fake: FakeX, username: str | None = "valdaiclub", timeout: float = 5.0, secrets: dict[str, str] | None = None
) -> XTarget:
    values = {**SECRETS, **(secrets or {})}
    return XTarget(
        platform="x",
        username=username,
        api_base_url=fake.base_url,
        timeout=timeout,
        **{key: SecretStr(value) for key, value in values.items()},
    )


@pytest.fixture
async def adapter(fake: FakeX) -> AsyncIterator[XAdapter]:
    x = XAdapter("x", target(fake), clock=lambda: NOW)
    yield x
    await x.aclose()


@pytest.fixture
def announcement(render: Callable[..., RenderedPost]) -> RenderedPost:
    post = render("announcement", "x", "en")
    assert len(post.parts) >= 2, "the reference announcement is a thread on X"
    return post


async def test_the_announcement_arrives_as_a_thread_in_order(
    fake: FakeX, adapter: XAdapter, announcement: RenderedPost
) -> None:
    receipt = await adapter.publish(announcement)

    assert fake.problems == []
    assert [r.path for r in fake.requests] == ["/2/tweets"] * len(announcement.parts)
    assert [t.text for t in fake.tweets] == [part.text for part in announcement.parts]
    assert all(x_weighted_length(t.text) <= 280 for t in fake.tweets)
    assert fake.tweets[0].in_reply_to is None
    assert [t.in_reply_to for t in fake.tweets[1:]] == [t.id for t in fake.tweets[:-1]]
    assert announcement.link and announcement.link in fake.tweets[-1].text  # link_placement "last", the default
    assert receipt.post_id == fake.tweets[0].id
    assert receipt.extra_ids == tuple(t.id for t in fake.tweets[1:])
    assert receipt.link == f"https://x.com/valdaiclub/status/{fake.tweets[0].id}"


async def test_the_live_post_carries_the_stream_link(
    fake: FakeX, adapter: XAdapter, render: Callable[..., RenderedPost], reference_event: Event
) -> None:
    post = render("live", "x", "en")

    await adapter.publish(post)

    [tweet] = fake.tweets
    assert tweet.text == post.parts[0].text
    assert reference_event.live["website"] in tweet.text


async def test_without_a_username_the_link_uses_i_web(fake: FakeX, render: Callable[..., RenderedPost]) -> None:
    adapter = XAdapter("x", target(fake, username=None))
    try:
        receipt = await adapter.publish(render("live", "x", "en"))
    finally:
        await adapter.aclose()
    assert receipt.link == f"https://x.com/i/web/status/{fake.tweets[0].id}"


async def test_a_failed_later_part_says_how_many_went_out_and_is_not_retryable(
    fake: FakeX, adapter: XAdapter, announcement: RenderedPost
) -> None:
    fake.server_error(at=2)

    with pytest.raises(PublishError) as caught:
        await adapter.publish(announcement)

    [first] = fake.tweets
    assert first.text == announcement.parts[0].text
    assert type(caught.value) is PermanentError  # a retry would tweet the first part again
    assert not caught.value.retryable
    assert "503" in str(caught.value)
    assert f"1 of {len(announcement.parts)} tweets of the thread had already been published" in str(caught.value)
    assert f"https://x.com/valdaiclub/status/{first.id}" in str(caught.value)


async def test_a_credentials_error_on_a_later_part_stays_one(
    fake: FakeX, adapter: XAdapter, announcement: RenderedPost
) -> None:
    fake.unauthorized(at=2)

    with pytest.raises(CredentialsError, match="1 of"):
        await adapter.publish(announcement)
    assert len(fake.tweets) == 1


FAULTS: list[tuple[str, Callable[[FakeX], None], type[PublishError], str]] = [
    ("429", FakeX.rate_limited, RateLimited, "rate limit"),
    ("duplicate", FakeX.duplicate, PermanentError, "duplicate"),
    ("403", FakeX.forbidden, CredentialsError, "403"),
    ("401", FakeX.unauthorized, CredentialsError, "401"),
    ("400", lambda f: f.bad_request("Your media IDs are invalid."), PermanentError, "media IDs are invalid"),
    ("503", FakeX.server_error, TransientError, "X answered HTTP 503"),
    ("drop", FakeX.drop, OutcomeUnknown, "may or may not have been published"),
    ("reset", FakeX.reset, OutcomeUnknown, "may or may not have been published"),
]


@pytest.mark.parametrize(("script", "expected", "words"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
async def test_each_fault_maps_to_its_error(
    fake: FakeX,
    adapter: XAdapter,
    render: Callable[..., RenderedPost],
    script: Callable[[FakeX], None],
    expected: type[PublishError],
    words: str,
) -> None:
    script(fake)

    with pytest.raises(PublishError) as caught:
        await adapter.publish(render("live", "x", "en"))

    assert type(caught.value) is expected
    assert words.lower() in str(caught.value).lower()
    assert len(fake.requests) == 1
    assert fake.tweets == []


@pytest.mark.parametrize(("reset_in", "wait"), [(900, 900), (120, 120), (None, 900), (-30, 1)])
async def test_rate_limit_waits_until_the_reset_time(
    fake: FakeX,
    adapter: XAdapter,
    render: Callable[..., RenderedPost],
    reset_in: float | None,
    wait: float,
) -> None:
    fake.rate_limited(reset_in=reset_in, times=5)
    started = time.monotonic()

    with pytest.raises(RateLimited) as caught:
        await adapter.publish(render("live", "x", "en"))

    # Without x-rate-limit-reset: X's whole 15-minute window.
    assert caught.value.retry_after == wait
    assert len(fake.requests) == 1  # no waiting and asking again inside tweepy
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("wrong", ["consumer_key", "consumer_secret", "access_token", "access_token_secret"])
async def test_a_wrong_credential_is_a_credentials_error(
    fake: FakeX, render: Callable[..., RenderedPost], wrong: str
) -> None:
    adapter = XAdapter("x", target(fake, secrets={wrong: "wrong-" + SECRETS[wrong]}))
    try:
        with pytest.raises(CredentialsError):
            await adapter.publish(render("live", "x", "en"))
    finally:
        await adapter.aclose()
    assert len(fake.problems) == 1 and fake.problems[0].startswith("401")
    assert fake.tweets == []


async def test_a_slow_answer_beyond_the_timeout_is_outcome_unknown(
    fake: FakeX, render: Callable[..., RenderedPost]
) -> None:
    adapter = XAdapter("x", target(fake, timeout=0.3))
    fake.slow(delay=2.0)  # X posts the tweet; its answer comes too late
    started = time.monotonic()
    try:
        with pytest.raises(OutcomeUnknown, match=r"no answer in time, 0\.3 s"):
            await adapter.publish(render("live", "x", "en"))
    finally:
        await adapter.aclose()
    assert time.monotonic() - started < 1.5
    assert len(fake.requests) == 1 and len(fake.tweets) == 1


async def test_a_tweet_unanswered_is_unknown_and_a_resend_continues_the_thread_after_the_log(
    fake: FakeX, adapter: XAdapter, announcement: RenderedPost
) -> None:
    # Before: "cannot reach X (connection failed or dropped)", a TransientError the core retried blindly.
    log = MemoryParts(key="planned-post-1")
    fake.drop(at=2)  # the second tweet's connection closes unanswered (here X had not posted it)
    with pytest.raises(OutcomeUnknown):
        await adapter.publish(announcement, log)
    assert len(fake.tweets) == 1 and len(log.done) == 1

    # The organiser checked the account and chose to resend: the thread continues after what the log holds.
    await adapter.publish(announcement, log)
    assert [t.text for t in fake.tweets] == [part.text for part in announcement.parts]
    assert [t.in_reply_to for t in fake.tweets[1:]] == [t.id for t in fake.tweets[:-1]]


SECRET_FAULTS = [*FAULTS, ("slow", lambda f: f.slow(delay=2.0), OutcomeUnknown, "in time")]


@pytest.mark.parametrize("script", [f[1] for f in SECRET_FAULTS], ids=[f[0] for f in SECRET_FAULTS])
async def test_no_secret_appears_in_errors_or_logs(
    fake: FakeX,
    announcement: RenderedPost,
    caplog: pytest.LogCaptureFixture,
    script: Callable[[FakeX], None],
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = XAdapter("x", target(fake, timeout=0.3))
    script(fake)
    try:
        with pytest.raises(PublishError) as caught:
            await adapter.publish(announcement)
        await adapter.publish(announcement)  # and a whole thread, for the logs of a success
    finally:
        await adapter.aclose()

    error = caught.value
    shown = [str(error), repr(error), "".join(traceback.format_exception(error))]
    # oauthlib logs the signing at DEBUG: make sure those records were there to be checked.
    assert any(r.name.startswith("requests_oauthlib") for r in caplog.records)
    for name, secret in SECRETS.items():
        assert not [text for text in shown if secret in text], name
        assert secret not in caplog.text, name
        assert not [r for r in caplog.records if secret in r.getMessage()], name
    assert fake.problems == []
    late = 1 if script is SECRET_FAULTS[-1][1] else 0  # the slow fault's tweet was posted, answered late
    assert len(fake.tweets) == len(announcement.parts) + late


# -- reading the posts back (GET /2/tweets with public_metrics) -------------------------------------------------


async def test_the_lookup_reads_public_metrics_signed_and_billed_per_post(fake: FakeX, adapter: XAdapter,
                                                                          announcement: RenderedPost) -> None:
    receipt = await adapter.publish(announcement)
    fake.tweets[0].metrics.update(impression_count=7300, like_count=81, retweet_count=12, reply_count=4,
                                  quote_count=2, bookmark_count=5)
    read = await adapter.read_reach([receipt.post_id, "1"])  # "1": deleted, answered in `errors`, not billed
    assert read == {receipt.post_id: {"impressions": 7300, "likes": 81, "reposts": 12, "replies": 4, "quotes": 2,
                                      "bookmarks": 5}}
    assert fake.read == [receipt.post_id] and fake.problems == []  # the GET's OAuth signature checked out
    lookup = fake.requests[-1]
    assert (lookup.method, lookup.path, lookup.params["tweet.fields"]) == ("GET", "/2/tweets", "public_metrics")


async def test_a_failed_lookup_maps_to_the_bot_s_errors(fake: FakeX, adapter: XAdapter) -> None:
    fake.rate_limited(reset_in=600)
    with pytest.raises(RateLimited) as limited:
        await adapter.read_reach(["1860000000000000001"])
    assert limited.value.retry_after == 600
    fake.unauthorized()
    with pytest.raises(CredentialsError, match="refused to read the posts back"):
        await adapter.read_reach(["1860000000000000001"])
    fake.server_error()
    with pytest.raises(TransientError):
        await adapter.read_reach(["1860000000000000001"])
    fake.drop()  # a read is safe to repeat: never 'unknown'
    with pytest.raises(TransientError) as dropped:
        await adapter.read_reach(["1860000000000000001"])
    assert not isinstance(dropped.value, OutcomeUnknown)

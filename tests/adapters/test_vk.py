"""The VK adapter, driven through the real vk-api against a loopback fake of VK's API."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from pydantic import SecretStr

from bot.adapters.vk import VkAdapter
from bot.config.settings import VkTarget
from bot.domain import Part, RenderedPost
from bot.errors import CredentialsError, PermanentError, PublishError, RateLimited, TransientError
from tests.fakes.vk import FakeVk

TOKEN = "vk-secret-token"
GROUP_ID = 123


@pytest.fixture
def fake() -> Iterator[FakeVk]:
    server = FakeVk(token=TOKEN)
    server.start()
    yield server
    server.stop()


def target(fake: FakeVk, token: str = TOKEN, timeout: float = 5.0) -> VkTarget:
    return VkTarget(
        platform="vk", group_id=GROUP_ID, token=SecretStr(token), api_base_url=fake.base_url, timeout=timeout
    )


@pytest.fixture
async def adapter(fake: FakeVk) -> AsyncIterator[VkAdapter]:
    vk = VkAdapter("vk", target(fake))
    yield vk
    await vk.aclose()


@pytest.fixture
def announcement(render: Callable[..., RenderedPost]) -> RenderedPost:
    return render("announcement", "vk", "ru")


def two_parts(post: RenderedPost) -> RenderedPost:
    text = post.parts[0].text
    half = len(text) // 2
    parts = (Part(text=text[:half], length=half), Part(text=text[half:], length=len(text) - half))
    return post.model_copy(update={"parts": parts})


async def test_announcement_arrives_on_the_community_wall(
    fake: FakeVk, adapter: VkAdapter, announcement: RenderedPost
) -> None:
    assert announcement.link and len(announcement.parts) == 1

    receipt = await adapter.publish(announcement)

    assert fake.problems == []
    assert [r.path for r in fake.requests] == ["/method/wall.post"]
    [post] = fake.posts
    assert post.owner_id == -GROUP_ID
    assert post.from_group == "1"
    assert post.params["v"] == "5.199"
    assert post.params["access_token"] == TOKEN
    assert post.message == announcement.parts[0].text
    assert post.attachments == announcement.link
    assert receipt.post_id == f"-{GROUP_ID}_{post.post_id}"
    assert receipt.link == f"https://vk.com/wall-{GROUP_ID}_{post.post_id}"
    assert receipt.extra_ids == ()
    assert receipt.target == "vk"


async def test_a_post_of_two_parts_makes_two_wall_posts_with_the_link_on_the_first(
    fake: FakeVk, adapter: VkAdapter, announcement: RenderedPost
) -> None:
    post = two_parts(announcement)

    receipt = await adapter.publish(post)

    assert [p.message for p in fake.posts] == [part.text for part in post.parts]
    assert [p.attachments for p in fake.posts] == [post.link, None]
    assert receipt.post_id == f"-{GROUP_ID}_{fake.posts[0].post_id}"
    assert receipt.extra_ids == (f"-{GROUP_ID}_{fake.posts[1].post_id}",)


async def test_a_failed_second_part_says_what_went_out_and_is_not_retryable(
    fake: FakeVk, adapter: VkAdapter, announcement: RenderedPost
) -> None:
    post = two_parts(announcement)
    fake.flood_control(at=2)

    with pytest.raises(PublishError) as caught:
        await adapter.publish(post)

    [first] = fake.posts
    assert first.message == post.parts[0].text
    assert type(caught.value) is PermanentError  # a retry would post the first part again
    assert not caught.value.retryable
    assert "flood control" in str(caught.value).lower()
    assert "1 of 2 wall posts had already been published" in str(caught.value)
    assert f"https://vk.com/wall-{GROUP_ID}_{first.post_id}" in str(caught.value)


async def test_a_credentials_error_on_a_later_part_stays_one(
    fake: FakeVk, adapter: VkAdapter, announcement: RenderedPost
) -> None:
    fake.group_auth(at=2)

    with pytest.raises(CredentialsError, match="1 of 2 wall posts"):
        await adapter.publish(two_parts(announcement))
    assert len(fake.posts) == 1


FAULTS: list[tuple[str, Callable[[FakeVk], None], type[PublishError], str]] = [
    ("auth", FakeVk.auth_failed, CredentialsError, "error 5"),
    ("rps", FakeVk.too_many_rps, RateLimited, "error 6"),
    ("flood", FakeVk.flood_control, RateLimited, "flood control"),
    ("captcha", FakeVk.captcha, TransientError, "captcha"),
    ("group-token", FakeVk.group_auth, CredentialsError, "community token cannot post"),
    ("no-access", lambda f: f.fail_with(15, "Access denied"), CredentialsError, "error 15"),
    ("denied", lambda f: f.fail_with(214, "Access to adding post denied"), CredentialsError, "error 214"),
    ("bad-param", lambda f: f.fail_with(100, "One of the parameters specified was missing"), PermanentError, "100"),
    ("http-500", FakeVk.server_error, TransientError, "HTTP 500"),
    ("drop", FakeVk.drop, TransientError, "connection"),
]


@pytest.mark.parametrize(("script", "expected", "words"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
async def test_each_fault_maps_to_its_error(
    fake: FakeVk,
    adapter: VkAdapter,
    announcement: RenderedPost,
    script: Callable[[FakeVk], None],
    expected: type[PublishError],
    words: str,
) -> None:
    script(fake)

    with pytest.raises(PublishError) as caught:
        await adapter.publish(announcement)

    assert type(caught.value) is expected
    assert words.lower() in str(caught.value).lower()
    assert len(fake.requests) == 1
    assert fake.posts == []


async def test_rate_limits_say_how_long_to_wait(fake: FakeVk, adapter: VkAdapter, announcement: RenderedPost) -> None:
    fake.too_many_rps()
    with pytest.raises(RateLimited) as rps:
        await adapter.publish(announcement)
    fake.flood_control()
    with pytest.raises(RateLimited) as flood:
        await adapter.publish(announcement)

    assert rps.value.retry_after == 1.0
    assert flood.value.retry_after >= 3600


async def test_error_6_is_not_retried_forever(fake: FakeVk, adapter: VkAdapter, announcement: RenderedPost) -> None:
    fake.too_many_rps(times=50)
    started = time.monotonic()

    with pytest.raises(RateLimited):
        await adapter.publish(announcement)

    assert time.monotonic() - started < 3
    assert len(fake.requests) == 1  # vk-api's own handler would have asked again and again
    assert fake.posts == []


async def test_a_wrong_token_is_a_credentials_error(fake: FakeVk, announcement: RenderedPost) -> None:
    adapter = VkAdapter("vk", target(fake, token="not-the-token"))
    try:
        with pytest.raises(CredentialsError):
            await adapter.publish(announcement)
    finally:
        await adapter.aclose()
    assert fake.problems == ["5: User authorization failed: invalid access_token"]
    assert fake.posts == []


async def test_a_slow_answer_beyond_the_timeout_is_transient(fake: FakeVk, announcement: RenderedPost) -> None:
    adapter = VkAdapter("vk", target(fake, timeout=0.3))
    fake.slow(delay=2.0)
    started = time.monotonic()
    try:
        with pytest.raises(TransientError, match="in time"):
            await adapter.publish(announcement)
    finally:
        await adapter.aclose()
    assert time.monotonic() - started < 1.5
    assert len(fake.requests) == 1


SECRET_FAULTS = [*FAULTS, ("slow", lambda f: f.slow(delay=2.0), TransientError, "in time")]


@pytest.mark.parametrize("script", [f[1] for f in SECRET_FAULTS], ids=[f[0] for f in SECRET_FAULTS])
async def test_the_token_appears_in_no_error_and_no_log(
    fake: FakeVk,
    announcement: RenderedPost,
    caplog: pytest.LogCaptureFixture,
    script: Callable[[FakeVk], None],
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = VkAdapter("vk", target(fake, timeout=0.3))
    script(fake)
    try:
        with pytest.raises(PublishError) as caught:
            await adapter.publish(announcement)
        await adapter.publish(announcement)  # and a success, for the logs of a whole exchange
    finally:
        await adapter.aclose()

    error = caught.value
    assert error.__cause__ is None and error.__context__ is None  # vk-api's exception holds the token
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)
    assert TOKEN not in "".join(traceback.format_exception(error))
    assert caplog.records, "nothing was logged: the check below would prove nothing"
    assert TOKEN not in caplog.text
    assert not [r for r in caplog.records if TOKEN in r.getMessage()]
    assert any(TOKEN in r.body.decode() for r in fake.requests)  # it was sent, only never shown

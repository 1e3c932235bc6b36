"""The VK adapter, driven through the real vk-api against a loopback fake of VK's API."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from pydantic import SecretStr

from bot.abc import MemoryParts
from bot.adapters.vk import VkAdapter
from bot.config.settings import VkTarget
from bot.domain import Cover, Event, Part, RenderedPost
from bot.errors import CredentialsError, OutcomeUnknown, PermanentError, PublishError, RateLimited, TransientError
from tests.fakes.vk import FakeVk

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200)  # enough of a JPEG for VK's upload server
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
    ("captcha", FakeVk.captcha, CredentialsError, "captcha"),
    ("group-token", FakeVk.group_auth, CredentialsError, "error 27"),
    ("no-access", FakeVk.access_denied, CredentialsError, "error 15"),
    ("http-429", lambda f: f.http_429("30"), RateLimited, "wait 30 s"),
    ("denied", lambda f: f.fail_with(214, "Access to adding post denied"), CredentialsError, "error 214"),
    ("bad-param", lambda f: f.fail_with(100, "One of the parameters specified was missing"), PermanentError, "100"),
    ("http-500", FakeVk.server_error, TransientError, "HTTP 500"),
    ("drop", FakeVk.drop, TransientError, "guid"),
    ("record-then-drop", FakeVk.record_then_drop, TransientError, "guid"),
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
    assert len(fake.posts) == (1 if script is FakeVk.record_then_drop else 0)


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


# -- guid: a repeated wall.post publishes nothing --------------------------------------------------------------


async def test_every_wall_post_carries_a_guid_from_the_publication_and_the_part(
    fake: FakeVk, adapter: VkAdapter, announcement: RenderedPost
) -> None:
    post = two_parts(announcement)
    await adapter.publish(post, MemoryParts(key="planned-post-1"))
    await adapter.publish(post, MemoryParts(key="planned-post-2"))
    await adapter.publish(announcement)  # parts=None: a fresh key of its own
    await adapter.publish(announcement)

    guids = [p.params.get("guid") for p in fake.posts]
    assert all(guids) and len(set(guids)) == len(guids) == 6  # never shared between parts or posts


async def test_a_wall_post_published_but_unanswered_is_retried_and_published_once(
    fake: FakeVk, adapter: VkAdapter, announcement: RenderedPost
) -> None:
    post = two_parts(announcement)
    log = MemoryParts(key="planned-post-3")
    fake.record_then_drop(at=2)  # the second wall post goes up, its answer never comes

    with pytest.raises(TransientError) as caught:
        await adapter.publish(post, log)
    assert type(caught.value) is TransientError and "within the hour" in str(caught.value)
    assert len(fake.posts) == 2 and len(log.done) == 1
    receipt = await adapter.publish(post, log)

    assert [p.message for p in fake.posts] == [part.text for part in post.parts]  # still one of each
    assert receipt.extra_ids == (f"-{GROUP_ID}_{fake.posts[1].post_id}",)  # VK answered with the first one's id


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_past_vks_guid_hour_an_unanswered_wall_post_is_unknown_and_not_sent_again(
    fake: FakeVk, announcement: RenderedPost
) -> None:
    clock = Clock()
    adapter = VkAdapter("vk", target(fake), clock=clock)
    log = MemoryParts(key="planned-post-4")
    fake.record_then_drop()
    try:
        with pytest.raises(TransientError):
            await adapter.publish(announcement, log)
        clock.now += 55 * 60  # the retry comes late: VK's one hour nearly over
        with pytest.raises(OutcomeUnknown) as caught:
            await adapter.publish(announcement, log)
    finally:
        await adapter.aclose()
    assert "within an hour" in str(caught.value) and "55 min ago" in str(caught.value)
    assert len(fake.posts) == 1 and len(fake.requests) == 1  # the late retry sent nothing


async def test_within_the_hour_the_retry_of_an_unanswered_wall_post_is_sent(
    fake: FakeVk, announcement: RenderedPost
) -> None:
    clock = Clock()
    adapter = VkAdapter("vk", target(fake), clock=clock)
    log = MemoryParts(key="planned-post-5")
    fake.drop()  # closed before VK acted on it
    try:
        with pytest.raises(TransientError):
            await adapter.publish(announcement, log)
        clock.now += 40 * 60
        await adapter.publish(announcement, log)
    finally:
        await adapter.aclose()
    assert len(fake.posts) == 1 and len(fake.requests) == 2


# -- the cover photo, through the path a community token may use ----------------------------------------------


@pytest.fixture
def cover_post(fake: FakeVk, render: Callable[..., RenderedPost], reference_event: Event) -> RenderedPost:
    url = fake.host_file("cover.jpg", JPEG)
    event = reference_event.model_copy(update={"cover": Cover(url=url)})
    return render("announcement", "vk", "ru", event=event)


async def test_the_cover_is_uploaded_as_a_photo_and_attached_with_the_link(
    fake: FakeVk, adapter: VkAdapter, cover_post: RenderedPost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.adapters.vk")
    await adapter.publish(cover_post)

    [photo] = fake.photos
    assert photo.data == JPEG and fake.uploads == [JPEG]
    [post] = fake.posts
    assert post.attachments == f"{photo.attachment},{cover_post.link}"
    assert [r.path for r in fake.requests] == [
        "/files/cover.jpg", "/method/photos.getMessagesUploadServer", "/upload/photo",
        "/method/photos.saveMessagesPhoto", "/method/wall.post",
    ]
    assert f"attached as photo {photo.attachment}" in caplog.text


@pytest.mark.parametrize("refusal", [15, 27])
async def test_a_refused_photo_falls_back_to_the_link_and_says_so(
    fake: FakeVk, adapter: VkAdapter, cover_post: RenderedPost, caplog: pytest.LogCaptureFixture, refusal: int
) -> None:
    fake.refuse_photos(refusal)
    await adapter.publish(cover_post)

    [post] = fake.posts
    assert post.attachments == cover_post.link
    assert f"not attached as a photo (VK refused it: error {refusal}" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(("name", "data", "kind", "why"), [
    ("missing.jpg", None, "image/jpeg", "HTTP 404"),
    ("page.html", b"<html></html>", "text/html", "text/html, not JPEG"),
])
async def test_a_cover_that_cannot_be_fetched_falls_back_to_the_link(
    fake: FakeVk, adapter: VkAdapter, render: Callable[..., RenderedPost], reference_event: Event,
    caplog: pytest.LogCaptureFixture, name: str, data: bytes | None, kind: str, why: str,
) -> None:
    url = fake.host_file(name, data, kind) if data is not None else f"{fake.base_url}/files/{name}"
    post = render("announcement", "vk", "ru", event=reference_event.model_copy(update={"cover": Cover(url=url)}))
    await adapter.publish(post)
    assert [p.attachments for p in fake.posts] == [post.link]
    assert why in caplog.text and fake.photos == []


# -- reading the posts back (wall.getById) ---------------------------------------------------------------------


async def test_wall_get_by_id_reads_views_likes_reposts_and_comments(fake: FakeVk, announcement: RenderedPost) -> None:
    fake.service_token = "vk-service-key-SECRET"
    vk = VkAdapter("vk", target(fake).model_copy(update={"service_token": SecretStr("vk-service-key-SECRET")}))
    receipt = await vk.publish(announcement)
    fake.posts[0].views, fake.posts[0].likes, fake.posts[0].reposts = 5120, 44, 9
    fake.posts[0].comments.append("Спасибо!")
    read = await vk.read_reach([receipt.post_id, f"-{GROUP_ID}_999"])  # a post VK no longer has is left out
    assert read == {receipt.post_id: {"views": 5120, "likes": 44, "reposts": 9, "comments": 1}}
    assert fake.reads == [[receipt.post_id, f"-{GROUP_ID}_999"]]
    assert fake.requests[-1].params["access_token"] == "vk-service-key-SECRET"  # read with the service key
    await vk.aclose()


async def test_reading_with_the_community_token_says_to_set_a_service_token(fake: FakeVk, adapter: VkAdapter,
                                                                            announcement: RenderedPost) -> None:
    fake.service_token = "vk-service-key-SECRET"  # VK answers wall.getById with error 27 to a community token
    receipt = await adapter.publish(announcement)
    with pytest.raises(CredentialsError, match="set service_token") as caught:
        await adapter.read_reach([receipt.post_id])
    assert TOKEN not in str(caught.value)
    fake.too_many_rps()
    fake.service_token = None
    with pytest.raises(RateLimited):
        await adapter.read_reach([receipt.post_id])
    fake.server_error()
    with pytest.raises(TransientError):
        await adapter.read_reach([receipt.post_id])

"""The Telegram adapter against a fake Bot API server on 127.0.0.1: what arrives, and how failures map."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from pydantic import SecretStr

from bot.abc import MemoryParts
from bot.adapters.telegram import TelegramAdapter
from bot.config.settings import TelegramTarget
from bot.domain import Cover, Event, Platform, RenderedPost
from bot.errors import CredentialsError, OutcomeUnknown, PermanentError, PublishError, RateLimited, TransientError
from bot.platforms import telegram_length
from bot.rendering.markup import telegram_html_problems
from tests.fakes.base import Reply
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-token-abc"
CHAT = "@valdaiclub"
CHANNEL_URL = "https://t.me/valdaiclub"

MakeAdapter = Callable[..., TelegramAdapter]


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram(TOKEN, chat_id=CHAT)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def make_adapter(fake: FakeTelegram) -> AsyncIterator[MakeAdapter]:
    made: list[TelegramAdapter] = []

    def _make(
        *, timeout: float = 5.0, token: str = TOKEN, chat_id: str = CHAT, url: str | None = CHANNEL_URL
    ) -> TelegramAdapter:
        target = TelegramTarget(
            platform=Platform.TELEGRAM,
            chat_id=chat_id,
            url=url,
            token=SecretStr(token),
            api_base_url=fake.base_url,
            timeout=timeout,
        )
        adapter = TelegramAdapter("telegram_en", target)
        made.append(adapter)
        return adapter

    yield _make
    for adapter in made:
        await adapter.aclose()


@pytest.fixture
def adapter(make_adapter: MakeAdapter) -> TelegramAdapter:
    return make_adapter()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def cover_event(reference_event: Event) -> Event:
    return reference_event.model_copy(update={"cover": Cover(url="https://example.org/c.jpg")})


@pytest.fixture
def long_event(reference_event: Event) -> Event:
    paragraph = "The treaty & its consequences for the region were discussed at length. " * 12
    return reference_event.model_copy(update={"description": "\n\n".join([paragraph] * 10)})


def assert_token_hidden(error: BaseException | None, logs: pytest.LogCaptureFixture) -> None:
    secret_part = TOKEN.split(":", 1)[1]
    if error is not None:
        for text in (str(error), repr(error), str(error.args)):
            assert TOKEN not in text and secret_part not in text, text
        # Nothing that could hold the token hangs off the error either.
        assert error.__cause__ is None
        assert error.__context__ is None or TOKEN not in str(error.__context__)
    for record in logs.records:
        text = f"{record.name} {record.getMessage()} {record.exc_text or ''}"
        assert TOKEN not in text and secret_part not in text, text
    assert TOKEN not in logs.text


# -- what arrives ----------------------------------------------------------------------------------------


async def test_announcement_arrives_whole_valid_and_with_link_preview(
    adapter: TelegramAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost],
    logs: pytest.LogCaptureFixture,
) -> None:
    post = render("announcement", "telegram", "en")
    assert len(post.parts) == 1 and post.link

    receipt = await adapter.publish(post)

    assert len(fake.messages) == 1
    sent = fake.messages[0]
    assert sent["method"] == "sendMessage"
    assert sent["chat_id"] == CHAT
    assert sent["parse_mode"] == "HTML"
    assert sent["text"] == post.parts[0].text
    assert telegram_html_problems(sent["text"]) == []
    assert telegram_length(sent["text"]) <= 4096
    assert sent["link_preview"] == post.link == "https://valdaiclub.com/events/announcements/russia-dprk-treaty/"
    assert sent["reply_to"] is None
    assert receipt.platform is Platform.TELEGRAM
    assert receipt.target == "telegram_en"
    assert receipt.post_id == str(sent["message_id"])
    assert receipt.link == f"https://t.me/valdaiclub/{sent['message_id']}"
    assert receipt.extra_ids == ()
    assert_token_hidden(None, logs)


async def test_cover_goes_as_photo_then_replies(
    adapter: TelegramAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost], cover_event: Event
) -> None:
    post = render("announcement", "telegram", "en", event=cover_event)
    assert post.image == "https://example.org/c.jpg" and len(post.parts) >= 2

    receipt = await adapter.publish(post)

    photo, *rest = fake.messages
    assert photo["method"] == "sendPhoto"
    assert photo["photo"] == "https://example.org/c.jpg"
    assert photo["caption"] == post.parts[0].text
    assert telegram_length(photo["caption"]) <= 1024
    assert [m["method"] for m in rest] == ["sendMessage"] * (len(post.parts) - 1)
    assert [m["text"] for m in rest] == [part.text for part in post.parts[1:]]
    assert all(m["reply_to"] == photo["message_id"] for m in rest)
    assert rest[0]["link_preview"] == post.link  # the first text message previews the post's link
    assert all(m["link_preview_disabled"] for m in rest[1:])
    assert receipt.post_id == str(photo["message_id"])
    assert receipt.extra_ids == tuple(str(m["message_id"]) for m in rest)


async def test_long_post_arrives_in_order_as_replies_to_the_first(
    adapter: TelegramAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost], long_event: Event
) -> None:
    post = render("announcement", "telegram", "en", event=long_event)
    assert len(post.parts) >= 3

    receipt = await adapter.publish(post)

    assert [m["text"] for m in fake.messages] == [part.text for part in post.parts]
    ids = [m["message_id"] for m in fake.messages]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    first, *rest = fake.messages
    assert first["reply_to"] is None and first["link_preview"] == post.link
    assert all(m["reply_to"] == first["message_id"] for m in rest)
    assert all(m["link_preview_disabled"] and m["link_preview"] is None for m in rest)
    assert all(telegram_length(m["text"]) <= 4096 and not telegram_html_problems(m["text"]) for m in fake.messages)
    assert receipt.post_id == str(ids[0])
    assert receipt.extra_ids == tuple(str(i) for i in ids[1:])


async def test_bot_is_initialised_once_and_reused(
    adapter: TelegramAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost]
) -> None:
    post = render("announcement", "telegram", "en")
    await adapter.publish(post)
    await adapter.publish(post)
    assert len(fake.calls("getMe")) == 1
    assert len(fake.calls("sendMessage")) == 2

    await adapter.aclose()
    await adapter.aclose()  # twice is harmless
    await adapter.publish(post)  # a closed adapter starts again
    assert len(fake.calls("getMe")) == 2
    assert len(fake.messages) == 3


async def test_numeric_chat_without_url_has_no_public_link(
    make_adapter: MakeAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost]
) -> None:
    fake.chat_id = str(fake.chat["id"])
    fake.chat.pop("username")
    adapter = make_adapter(chat_id=fake.chat_id, url=None)
    receipt = await adapter.publish(render("announcement", "telegram", "en"))
    assert fake.messages[0]["chat_id"] == fake.chat_id
    assert receipt.link is None


async def test_public_username_gives_link_without_url(
    make_adapter: MakeAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost]
) -> None:
    receipt = await make_adapter(url=None).publish(render("announcement", "telegram", "en"))
    assert receipt.link == f"https://t.me/valdaiclub/{fake.messages[0]['message_id']}"


# -- how failures map ------------------------------------------------------------------------------------

FAULTS: list[tuple[str, Reply, type[PublishError], str]] = [
    ("429", FakeTelegram.rate_limited(5), RateLimited, "wait 5"),
    ("429-without-retry-after", FakeTelegram.rate_limited_without_retry_after(), RateLimited, "waiting 60 s"),
    ("400-too-long", FakeTelegram.too_long(), PermanentError, "too long"),
    ("403-kicked", FakeTelegram.kicked(), CredentialsError, "kicked"),
    ("401", FakeTelegram.unauthorized(), CredentialsError, "token"),
    ("500", FakeTelegram.server_error(), TransientError, "Telegram answered HTTP 500 (Internal Server Error)"),
    ("502", FakeTelegram.server_error(502, "Bad Gateway"), TransientError, "Telegram answered HTTP 502 (Bad Gateway)"),
    ("413", FakeTelegram.server_error(413, "Request Entity Too Large"), PermanentError, "HTTP 413"),
    ("dropped", FakeTelegram.dropped(), OutcomeUnknown, "closed without an answer"),
    ("reset", FakeTelegram.reset(), OutcomeUnknown, "may or may not have been published"),
    ("migrated", FakeTelegram.migrated(-1009876543210), PermanentError, "-1009876543210"),
]


@pytest.mark.parametrize(("reply", "expected", "words"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
async def test_fault_maps_to_error_without_token(
    adapter: TelegramAdapter,
    fake: FakeTelegram,
    render: Callable[..., RenderedPost],
    logs: pytest.LogCaptureFixture,
    reply: Reply,
    expected: type[PublishError],
    words: str,
) -> None:
    fake.fail_method("sendMessage", reply)
    with pytest.raises(PublishError) as caught:
        await adapter.publish(render("announcement", "telegram", "en"))
    error = caught.value
    assert type(error) is expected
    assert words in str(error)
    assert "telegram_en" in str(error)
    assert fake.messages == []
    assert len(fake.calls("sendMessage")) == 1
    if isinstance(error, RateLimited):
        assert error.retry_after == (5 if "retry after" in str(reply.body) else 60)
    assert_token_hidden(error, logs)


@pytest.mark.parametrize("reply", [FakeTelegram.record_then_drop(), FakeTelegram.record_then_reset()],
                         ids=["drop", "reset"])
async def test_a_message_sent_but_not_answered_is_outcome_unknown_not_a_retry(
    adapter: TelegramAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost],
    logs: pytest.LogCaptureFixture, reply: Reply,
) -> None:
    # Before: "cannot reach Telegram: httpx.RemoteProtocolError", a TransientError the core retried: twice out.
    fake.fail_method("sendMessage", reply)
    with pytest.raises(OutcomeUnknown) as caught:
        await adapter.publish(render("announcement", "telegram", "en"))
    assert len(fake.messages) == 1  # Telegram did publish it
    assert "may or may not have been published" in str(caught.value)
    assert_token_hidden(caught.value, logs)


async def test_slow_answer_beyond_timeout_is_outcome_unknown(
    make_adapter: MakeAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost],
    logs: pytest.LogCaptureFixture,
) -> None:
    adapter = make_adapter(timeout=0.5)
    fake.fail_method("sendMessage", FakeTelegram.slow(2))
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown) as caught:
        await adapter.publish(render("announcement", "telegram", "en"))
    assert time.monotonic() - started < 1.8  # gave up at the target's timeout, not when the answer came
    assert "0.5 s" in str(caught.value)
    assert_token_hidden(caught.value, logs)


async def test_a_post_with_a_cover_resumes_after_the_photo_without_sending_it_again(
    adapter: TelegramAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost], cover_event: Event
) -> None:
    post = render("announcement", "telegram", "en", event=cover_event)
    log = MemoryParts(key="planned-post-1")
    fake.fail_method("sendMessage", FakeTelegram.server_error())
    with pytest.raises(TransientError):
        await adapter.publish(post, log)
    [photo] = fake.messages
    assert log.done == (str(photo["message_id"]),)

    receipt = await adapter.publish(post, log)

    assert [m["method"] for m in fake.messages] == ["sendPhoto"] + ["sendMessage"] * (len(post.parts) - 1)
    assert all(m["reply_to"] == photo["message_id"] for m in fake.messages[1:])
    assert fake.messages[1]["link_preview"] == post.link  # the first text message still previews the link
    assert receipt.post_id == str(photo["message_id"])
    assert receipt.link == f"https://t.me/valdaiclub/{photo['message_id']}"


async def test_wrong_token_is_a_credentials_error_that_does_not_quote_it(
    make_adapter: MakeAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost],
    logs: pytest.LogCaptureFixture,
) -> None:
    wrong = "654321:WRONG-token-xyz"
    adapter = make_adapter(token=wrong)
    with pytest.raises(CredentialsError) as caught:
        await adapter.publish(render("announcement", "telegram", "en"))
    # PTB's own InvalidToken from initialize() quotes the token: ours must not.
    for text in (str(caught.value), repr(caught.value)):
        assert wrong not in text and "WRONG-token" not in text
    assert "WRONG-token" not in logs.text
    assert fake.messages == [] and len(fake.calls("getMe")) == 1


async def test_without_a_log_a_failure_after_the_first_part_says_what_went_out_and_is_not_retried(
    adapter: TelegramAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost], cover_event: Event,
    logs: pytest.LogCaptureFixture,
) -> None:
    post = render("announcement", "telegram", "en", event=cover_event)
    fake.fail_method("sendMessage", FakeTelegram.rate_limited(5))
    with pytest.raises(PublishError) as caught:
        await adapter.publish(post)
    error = caught.value
    # Without a log a retry would post the photo again, so a rate limit on a later part is not retryable.
    assert type(error) is PermanentError and not error.retryable
    photo_id = fake.messages[0]["message_id"]
    assert len(fake.messages) == 1 and fake.messages[0]["method"] == "sendPhoto"
    assert f"1 of {len(post.parts)} parts" in str(error)
    assert str(photo_id) in str(error)
    assert "wait 5" in str(error)
    assert_token_hidden(error, logs)


async def test_kicked_on_a_later_part_stays_a_credentials_error(
    adapter: TelegramAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost], long_event: Event
) -> None:
    post = render("announcement", "telegram", "en", event=long_event)
    fake.fail_method("sendMessage", FakeTelegram.kicked(), after=2)
    with pytest.raises(CredentialsError) as caught:
        await adapter.publish(post)
    assert len(fake.messages) == 2 and len(fake.calls("sendMessage")) == 3
    sent_ids = [str(m["message_id"]) for m in fake.messages]
    assert f"2 of {len(post.parts)} parts" in str(caught.value)
    assert all(i in str(caught.value) for i in sent_ids)


async def test_failure_on_the_first_part_says_nothing_went_out(
    adapter: TelegramAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost], long_event: Event
) -> None:
    fake.fail_method("sendMessage", FakeTelegram.server_error())
    with pytest.raises(TransientError) as caught:
        await adapter.publish(render("announcement", "telegram", "en", event=long_event))
    assert caught.value.retryable and "parts" not in str(caught.value)
    assert fake.messages == [] and len(fake.calls("sendMessage")) == 1


@pytest.mark.parametrize("with_cover", [False, True], ids=["text", "photo"])
async def test_pin_live_edits_the_text_or_the_caption_and_pins_quietly(
    adapter: TelegramAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost], cover_event: Event,
    with_cover: bool,
) -> None:
    post = render("announcement", "telegram", "en", event=cover_event if with_cover else None)
    receipt = await adapter.publish(post)
    first = fake.messages[0]
    new_text = "<b>We are live</b>: https://valdaiclub.com/live &amp; on VK"

    await adapter.pin_live(receipt.post_id, new_text, caption=with_cover)

    assert first["caption" if with_cover else "text"] == new_text and first["edits"] == 1
    assert fake.pinned == [first["message_id"]]
    assert fake.calls("pinChatMessage")[0].params["disable_notification"] == "true"
    await adapter.unpin(receipt.post_id)
    assert fake.pinned == []


async def test_pin_live_on_the_wrong_field_is_a_permanent_error(
    adapter: TelegramAdapter, fake: FakeTelegram, render: Callable[..., RenderedPost]
) -> None:
    receipt = await adapter.publish(render("announcement", "telegram", "en"))
    with pytest.raises(PermanentError, match="no caption"):
        await adapter.pin_live(receipt.post_id, "<b>live</b>", caption=True)  # a text message has no caption
    assert fake.pinned == []

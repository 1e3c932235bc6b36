"""Every request of the chat bot goes through its token's shared limits: replies paced per chat and overall on the
same windows as channel posts and reminders, a 429 pausing them all (virtual time, the fake's clock)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram.ext import ExtBot

from bot.chat import build_application, token_limits
from bot.chat.limiter import SharedRateLimiter
from bot.config import AppConfig
from bot.config.live import LiveConfig
from bot.delivery import Publisher
from bot.domain import Platform
from bot.ratelimit import RateLimits, TokenLimits
from bot.runtime import Runtime
from tests.chat.conftest import TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.virtual_time import VirtualTime


@pytest.fixture
def vt(fake: FakeTelegram) -> VirtualTime:
    time = VirtualTime(datetime(2024, 11, 20, 9, 0, tzinfo=UTC))
    fake.clock = time.monotonic
    return time


@pytest.fixture
def limits(vt: VirtualTime) -> TokenLimits:
    shared = RateLimits(clock=vt.monotonic, sleep=vt.sleep).for_token(Platform.TELEGRAM, TOKEN)
    vt.quiet = lambda: shared.in_flight == 0
    return shared


@pytest.fixture
async def bot(fake: FakeTelegram, limits: TokenLimits) -> AsyncIterator[ExtBot[Any]]:
    ext: ExtBot[Any] = ExtBot(TOKEN, base_url=f"{fake.base_url}/bot", rate_limiter=SharedRateLimiter(limits))
    await ext.initialize()
    yield ext
    await ext.shutdown()


async def test_replies_to_one_person_go_one_a_second_and_others_are_not_held_up(
    bot: ExtBot[Any], fake: FakeTelegram, vt: VirtualTime
) -> None:
    await asyncio.gather(*(bot.send_message(chat_id=4242, text=f"reply {n}", parse_mode="HTML") for n in range(3)),
                         bot.send_message(chat_id=777, text="someone else", parse_mode="HTML"))
    person = sorted(m["time"] for m in fake.in_chat(4242))
    assert person == [0.0, 1.0, 2.0]
    assert [m["time"] for m in fake.in_chat(777)] == [0.0]
    assert await bot.get_me()  # no chat: not counted, not held


async def test_replies_and_channel_posts_share_the_token_s_30_a_second(
    bot: ExtBot[Any], fake: FakeTelegram, vt: VirtualTime, limits: TokenLimits
) -> None:
    for channel in range(25):  # the dispatcher's channel posts of this token, this second
        await limits.acquire(f"@channel{channel}")
    await asyncio.gather(*(bot.send_message(chat_id=5000 + n, text="hi", parse_mode="HTML") for n in range(10)))
    arrived = sorted(m["time"] for m in fake.messages)
    assert arrived == [0.0] * 5 + [1.0] * 5  # five replies fit this second; the rest wait for the next


async def test_a_429_pauses_everything_the_token_sends_and_the_reply_goes_once_it_is_over(
    bot: ExtBot[Any], fake: FakeTelegram, vt: VirtualTime, limits: TokenLimits
) -> None:
    fake.fail_method("sendMessage", FakeTelegram.rate_limited(4))
    await bot.send_message(chat_id=4242, text="answer", parse_mode="HTML")
    (reply,) = fake.in_chat(4242)
    assert reply["time"] == 4.0 and len(fake.calls("sendMessage")) == 2  # refused once, then sent after 4 s
    fake.fail_method("sendMessage", FakeTelegram.rate_limited(3))
    reminder = asyncio.create_task(limits.acquire("@valdaiclub"))  # a channel post that comes after
    await bot.send_message(chat_id=777, text="answer", parse_mode="HTML")
    await reminder
    assert vt.now >= 7.0  # it waited for the pause the reply was given


def test_the_chat_bot_and_the_channel_posts_of_one_token_share_one_limit(
    config: AppConfig, runtime: Runtime
) -> None:
    registry = RateLimits()
    live = LiveConfig(config)
    application = build_application(live, runtime.operations, limits=registry)
    assert isinstance(application.bot.rate_limiter, SharedRateLimiter)
    shared = token_limits(application)
    assert Publisher(live, limits=registry).limits_for("telegram") is shared  # [chat] bot_target's token
    assert application.bot.rate_limiter.limits is shared

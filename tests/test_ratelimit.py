"""The shared rate limits on virtual time: exact sliding windows, requests counted until their answer, per-chat
windows by kind of chat, the paid-broadcast ceiling, a 429's pause, one TokenLimits per token, the Pacer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.domain import Platform
from bot.ratelimit import Pacer, RateLimits, Slot, TokenLimits
from tests.virtual_time import VirtualTime


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime(datetime(2024, 11, 27, 7, 0, tzinfo=UTC))


def limits_on(vt: VirtualTime, **windows: tuple[tuple[int, float], ...]) -> TokenLimits:
    return TokenLimits(**windows, clock=vt.monotonic, sleep=vt.sleep)  # type: ignore[arg-type]


def busiest(moments: list[float], period: float) -> int:
    """The most moments in any half-open interval of `period` seconds."""
    return max(sum(1 for m in moments if t <= m < t + period) for t in moments)


async def test_a_window_lets_no_more_than_its_limit_into_any_second(vt: VirtualTime) -> None:
    limits = limits_on(vt, overall=((30, 1.0),))
    starts = []
    for _ in range(100):
        await limits.acquire()
        starts.append(vt.now)
    # 30 at once, then the next 30 exactly a second later: never 59 in a sliding second as a token bucket allows.
    assert starts == [float(k // 30) for k in range(100)]
    assert busiest(starts, 1.0) == 30


async def test_a_request_counts_until_its_answer_came_back(vt: VirtualTime) -> None:
    limits = limits_on(vt, overall=((5, 1.0),))
    first = await limits.take()
    for _ in range(4):
        (await limits.take()).done()
    sixth = asyncio.create_task(limits.take())
    await vt.sleep(0.3)
    await asyncio.sleep(0.01)
    assert not sixth.done()  # the first is still waiting for its answer
    first.done()  # its answer came at 0.3: it may have arrived as late as that
    slot = await sixth
    assert vt.now == pytest.approx(1.3)
    slot.done()
    assert limits.in_flight == 0


async def test_private_chats_get_one_message_a_second_and_groups_twenty_a_minute(vt: VirtualTime) -> None:
    limits = limits_on(vt, overall=((30, 1.0),), chat=((20, 60.0),), private=((1, 1.0),))
    person = []
    for _ in range(3):
        await limits.acquire("4242")
        person.append(vt.now)
    assert person == [0.0, 1.0, 2.0]
    assert limits.delay("4242") == pytest.approx(1.0)
    assert limits.delay("777") == 0.0  # somebody else is not held up
    group = []
    for _ in range(21):
        await limits.acquire("-1001234567890")
        group.append(vt.now)
    assert group[:20] == [2.0] * 20 and group[20] == pytest.approx(62.0)
    for chat in ("@channel", "-5"):
        assert not chat.isdigit()  # a channel's @name and a group's negative id are not private chats


async def test_paid_broadcasts_pass_the_ceiling_and_leave_the_free_window_to_the_rest(vt: VirtualTime) -> None:
    limits = limits_on(vt, overall=((30, 1.0),), paid=((1000, 1.0),))
    assert limits.ceiling() == 30 and limits.ceiling(paid=True) == 1000
    for _ in range(500):
        await limits.acquire(paid=True)
    assert vt.now == 0.0  # 500 paid messages in no time
    for _ in range(30):
        await limits.acquire()  # the free 30 are still there for a channel post or a reply
    assert vt.now == 0.0
    await limits.acquire()
    assert vt.now == 1.0  # the 31st unpaid one waits
    for _ in range(969):  # 500 + 31 + 469 in [1, 2): the paid ceiling counts everything
        await limits.acquire(paid=True)
    assert vt.now == 1.0
    await limits.acquire(paid=True)
    assert vt.now == 1.0  # the first 500 are a second old
    busy = limits_on(vt, paid=((3, 1.0),))
    for _ in range(4):
        await busy.acquire()
    assert vt.now == 2.0  # an unpaid request counts against the ceiling too


async def test_a_429_pauses_everything_the_token_sends(vt: VirtualTime) -> None:
    limits = limits_on(vt, overall=((30, 1.0),))
    await limits.acquire()
    limits.pause(2.5)
    assert limits.paused == 2.5
    await limits.acquire("4242")
    assert vt.now == 2.5 and limits.paused == 0


async def test_one_limit_per_token_whoever_sends() -> None:
    registry = RateLimits()
    channel = registry.for_token(Platform.TELEGRAM, "123:abc")
    assert registry.for_token(Platform.TELEGRAM, "123:abc") is channel  # the chat bot's and the channel's bot
    assert registry.for_token(Platform.TELEGRAM, "456:def") is not channel
    assert "123:abc" not in repr(registry.__dict__)  # keyed by a digest, never the token
    assert channel.ceiling() == 30 and channel.ceiling(paid=True) == 1000
    x = registry.for_token(Platform.X, "123:abc")
    assert x.ceiling() == pytest.approx(100 / 900)
    off = RateLimits(enabled=False).for_token(Platform.TELEGRAM, "123:abc")
    for _ in range(100):
        await off.acquire("4242")  # nothing holds, with the real clock: no sleep at all


async def test_a_slot_given_back_while_waiting_holds_nobody_up(vt: VirtualTime) -> None:
    limits = limits_on(vt, overall=((1, 1.0),), private=((1, 1.0),))
    await limits.acquire()
    waiting = asyncio.create_task(limits.take("4242"))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert limits.in_flight == 0
    await limits.acquire("4242")  # the cancelled one left the chat's window free
    assert vt.now == 1.0


async def test_the_pacer_spaces_evenly_and_makes_up_for_late_wake_ups() -> None:
    late = [0.0]

    def overshoot(seconds: float) -> float:
        late[0] = (late[0] + 0.0013) % 0.004  # wake-ups up to 4 ms late, as a busy event loop's are
        return late[0]

    vt = VirtualTime(datetime(2024, 11, 27, tzinfo=UTC), overshoot=overshoot)
    pacer = Pacer(limits_on(vt), 200.0)
    moments = []
    for _ in range(101):
        (await pacer.slot()).done()
        moments.append(vt.now)
    # 100 intervals of 5 ms: the overshoot does not add up, whatever the wake-ups cost.
    assert moments[-1] - moments[0] == pytest.approx(0.5, abs=0.005)
    # A late wake-up is not followed by a burst: any 50 ms holds about 10 sends, never many more.
    assert busiest(moments, 0.05) <= 11
    await vt.sleep(0.5)  # idle: no credit is saved up for a burst
    (await pacer.slot()).done()
    before = vt.now
    (await pacer.slot()).done()
    assert vt.now - before >= 0.005


async def test_the_pacer_holds_the_limit_against_sends_that_finish_late(vt: VirtualTime) -> None:
    pacer = Pacer(limits_on(vt, overall=((5, 1.0),)), 1000.0)  # spaced for 1,000/s, but at most 5 a second
    first = await pacer.slot()
    tickets = [await pacer.slot() for _ in range(4)]
    assert vt.now == pytest.approx(0.004)
    waiting = asyncio.create_task(pacer.slot())  # the 6th must wait for the 1st to finish, then a second
    await vt.sleep(0.2)
    await asyncio.sleep(0.01)
    assert not waiting.done()
    first.done()  # at 0.204
    slot = await waiting
    assert vt.now == pytest.approx(1.204)
    for done in (*tickets, slot):
        done.done()


def test_a_slot_is_done_once() -> None:
    calls = []
    slot = Slot(lambda: 1.0)
    slot.on_done = lambda: calls.append(1)
    slot.done()
    slot.done()
    assert calls == [1] and slot.end == 1.0

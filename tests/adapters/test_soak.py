"""A soak of the adapters: 240 three-part posts across Telegram, VK and X through the real client libraries, with
a random fault of every class on a third of the attempts, retried as the scheduler does. Nothing twice."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import pytest

from bot.abc import MemoryParts
from bot.adapters.vk import VkAdapter
from bot.domain import Part
from bot.errors import OutcomeUnknown, PublishError, RateLimited, TransientError
from tests.adapters.sides import Fault, Side, post_for

pytestmark = pytest.mark.slow  # the soak: hundreds of posts through random faults

POSTS_PER_PLATFORM = 80
ATTEMPTS = 8
REFUSED = "connection refused"
FAULTS: list[Fault | str] = [*Fault, REFUSED]


@pytest.mark.parametrize("name", ["telegram", "vk", "x"])
async def test_soak_with_random_faults_publishes_nothing_twice(make_side: Callable[[str], Side], name: str) -> None:
    side = make_side(name)
    if isinstance(side.adapter, VkAdapter):
        # vk-api sleeps ~0.34 s before each call to keep VK's 3 requests a second; the fake has no such limit.
        side.adapter._vk.RPS_DELAY = 0
    rng = random.Random(f"soak-{name}")  # the same faults every run
    outcomes: Counter[str] = Counter()
    unknown_out = 0
    faults: Counter[str] = Counter()
    for n in range(POSTS_PER_PLATFORM):
        template = post_for(side)
        texts = [f"Soak post {n}, part {k + 1}: the treaty, its meaning and its limits." for k in range(3)]
        post = template.model_copy(update={"parts": tuple(Part(text=t, length=len(t)) for t in texts)})
        log = MemoryParts(key=f"soak-{name}-{n}")
        outcome = "gave up"
        for _ in range(ATTEMPTS):
            fault = rng.choice(FAULTS) if rng.random() < 0.33 else None
            if fault is not None:
                faults[fault if isinstance(fault, str) else fault.name.lower()] += 1
            if fault == REFUSED:
                side.fake.refuse_connections()
            elif isinstance(fault, Fault):
                side.fail_call(rng.randint(1, len(post.parts) - len(log.done)), fault)
            try:
                await side.adapter.publish(post, log)
            except OutcomeUnknown:
                outcome = "unknown"
                uncertain = texts[len(log.done)]
                unknown_out += any(p.text == uncertain for p in side.published())
            except (RateLimited, TransientError):
                continue  # the scheduler retries these (after the wait); the log carries what went out
            except PublishError:
                outcome = "failed"
            else:
                outcome = "sent"
            finally:
                if fault == REFUSED:
                    side.fake.accept_connections()
            break
        outcomes[outcome] += 1
        published = [p.text for p in side.published() if p.text.startswith(f"Soak post {n},")]
        if outcome == "sent":
            assert published == texts, (n, published)  # each part once, in order
        assert len(published) == len(set(published)), (n, published)

    every = [p.text for p in side.published()]
    duplicates = len(every) - len(set(every))
    print(f"\nsoak {name}: {POSTS_PER_PLATFORM} posts, {sum(faults.values())} faults {dict(faults)}; "
          f"{dict(outcomes)}; of the unknown, {unknown_out} had in fact gone out; {duplicates} duplicates")
    assert duplicates == 0
    assert outcomes["sent"] >= POSTS_PER_PLATFORM // 2
    assert len(faults) >= 8  # the soak did exercise most fault classes

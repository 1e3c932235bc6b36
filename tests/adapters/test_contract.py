"""One contract every adapter keeps (bot/abc.py), run against each through the real client library and the
fake platform servers on 127.0.0.1: resume from the part log, one rule for faults, nothing published twice."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.abc import Adapter, MemoryParts
from bot.adapters import OutboxAdapter, build_adapter
from bot.adapters.max import MaxAdapter
from bot.adapters.telegram import TelegramAdapter
from bot.adapters.vk import VkAdapter
from bot.adapters.x import XAdapter
from bot.config import load_config
from bot.config.settings import MaxTarget, TelegramTarget, VkTarget, XTarget
from bot.domain import Platform, PostKind, Receipt
from bot.errors import (
    CredentialsError,
    OutcomeUnknown,
    PermanentError,
    PublishError,
    RateLimited,
    TransientError,
)
from bot.platforms import SPECS
from tests.adapters.sides import (
    ALL,
    GROUP_ID,
    MAX_CHANNEL,
    MAX_TOKEN,
    NETWORK,
    TELEGRAM_TOKEN,
    TIMEOUT,
    VK_TOKEN,
    X_SECRETS,
    Fault,
    OutboxSide,
    Side,
    assert_chained,
    post_for,
    three_parts,
)
from tests.conftest import Platforms, RenderFn
from tests.fakes import base
from tests.fakes.base import FakeServer, Reply
from tests.fakes.telegram import FakeTelegram
from tests.fakes.vk import FakeVk
from tests.fakes.x import FakeX

# -- resuming from the log --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("after", [1, 2])
async def test_a_post_that_fails_after_some_parts_resumes_and_each_part_is_published_once(
    make_side: Callable[[str], Side], name: str, after: int
) -> None:
    side = make_side(name)
    post = post_for(side)
    log = MemoryParts(key="planned-post-7")
    side.fail_call(after + 1, Fault.SERVER_ERROR)

    with pytest.raises(PublishError) as caught:
        await side.adapter.publish(post, log)

    # Retryable (the core retries and the retry continues), and the parts already out are in the log.
    assert caught.value.retryable and not isinstance(caught.value, OutcomeUnknown)
    assert len(log.done) == after
    assert [p.id for p in side.published()] == list(log.done)
    if isinstance(side, OutboxSide):
        side.unblock()

    receipt = await side.adapter.publish(post, log)

    published = side.published()
    assert [p.text for p in published] == [part.text for part in post.parts]  # each part once, in order
    assert_chained(side, published)
    assert log.done == tuple(p.id for p in published) and log.recorded == [p.id for p in published]
    assert receipt.post_id == published[0].id and receipt.extra_ids == tuple(p.id for p in published[1:])
    assert receipt.target == name


@pytest.mark.parametrize("name", NETWORK)
async def test_a_rate_limit_on_a_later_part_waits_and_then_continues(make_side: Callable[[str], Side],
                                                                     name: str) -> None:
    side = make_side(name)
    post = post_for(side)
    log = MemoryParts(key="planned-post-8")
    side.fail_call(2, Fault.RATE_LIMITED)

    with pytest.raises(RateLimited) as caught:
        await side.adapter.publish(post, log)
    assert caught.value.retry_after == 7
    await side.adapter.publish(post, log)

    assert [p.text for p in side.published()] == [part.text for part in post.parts]
    assert_chained(side, side.published())


@pytest.mark.parametrize("name", ALL)
async def test_without_a_log_a_failure_after_some_parts_says_what_went_out_and_is_not_retried(
    make_side: Callable[[str], Side], name: str
) -> None:
    side = make_side(name)
    side.fail_call(2, Fault.SERVER_ERROR)

    with pytest.raises(PublishError) as caught:
        await side.adapter.publish(post_for(side))  # parts=None: nothing can continue a later attempt

    [first] = side.published()
    assert type(caught.value) is PermanentError and not caught.value.retryable
    assert "1 of 3" in str(caught.value) and first.id in str(caught.value)


@pytest.mark.parametrize("name", NETWORK)
async def test_a_credentials_error_on_a_later_part_stays_one_and_keeps_the_log(
    make_side: Callable[[str], Side], name: str
) -> None:
    side = make_side(name)
    log = MemoryParts(key="planned-post-9")
    side.fail_call(2, Fault.FORBIDDEN)

    with pytest.raises(CredentialsError):
        await side.adapter.publish(post_for(side), log)
    assert len(log.done) == 1 and len(side.published()) == 1


async def test_a_log_holding_more_parts_than_the_post_is_refused(make_side: Callable[[str], Side]) -> None:
    side = make_side("x")
    with pytest.raises(PermanentError, match="changed since the first attempt"):
        await side.adapter.publish(post_for(side), MemoryParts(done=("1", "2", "3", "4")))
    assert side.requests() == 0


# -- faults: what each one raises ---------------------------------------------------------------------------------


UNCERTAIN = [Fault.DROP, Fault.RECORD_THEN_DROP, Fault.RESET, Fault.RECORD_THEN_RESET, Fault.LATE]


@pytest.mark.parametrize("name", ["telegram", "x", "max"])
@pytest.mark.parametrize("fault", UNCERTAIN, ids=[f.name.lower() for f in UNCERTAIN])
async def test_a_failure_once_the_request_may_have_arrived_is_outcome_unknown(
    make_side: Callable[[str], Side], name: str, fault: Fault
) -> None:
    side = make_side(name)
    log = MemoryParts(key="planned-post-10")
    side.fail_call(1, fault)

    with pytest.raises(OutcomeUnknown) as caught:
        await side.adapter.publish(post_for(side), log)

    assert "may or may not have been published" in str(caught.value)
    assert log.done == ()  # its id never came back: nothing to record
    assert side.requests() == 1  # not retried inside the adapter either


@pytest.mark.parametrize("fault", UNCERTAIN, ids=[f.name.lower() for f in UNCERTAIN])
async def test_vk_retries_an_uncertain_wall_post_safely_because_of_its_guid(
    make_side: Callable[[str], Side], fault: Fault
) -> None:
    side = make_side("vk")
    post = post_for(side)
    log = MemoryParts(key="planned-post-11")
    side.fail_call(1, fault)

    with pytest.raises(TransientError) as caught:
        await side.adapter.publish(post, log)
    assert type(caught.value) is TransientError and "guid" in str(caught.value)
    await side.adapter.publish(post, log)  # what the core does with a TransientError

    published = side.published()
    assert [p.text for p in published] == [part.text for part in post.parts]  # the first part once
    assert side.adapter.idempotent


@pytest.mark.parametrize("name", NETWORK)
async def test_a_refused_connection_is_transient_and_records_nothing(make_side: Callable[[str], Side],
                                                                     name: str) -> None:
    side = make_side(name)
    if name == "telegram":
        await side.adapter.prepare()  # getMe done: the refusal hits the sendMessage itself
    side.fake.refuse_connections()
    log = MemoryParts(key="planned-post-12")

    with pytest.raises(TransientError) as caught:
        await side.adapter.publish(post_for(side), log)

    assert type(caught.value) is TransientError and "nothing was sent" in str(caught.value)
    assert log.done == ()
    side.fake.accept_connections()
    assert side.published() == []


@pytest.mark.parametrize("name", NETWORK)
async def test_a_connect_timeout_is_transient_and_sends_nothing(name: str, fakes: dict[str, FakeServer]) -> None:
    hole = base.Blackhole()
    adapter: Adapter
    if name == "telegram":
        adapter = TelegramAdapter("telegram", TelegramTarget(
            platform=Platform.TELEGRAM, chat_id="@valdaiclub", token=SecretStr(TELEGRAM_TOKEN),
            api_base_url=hole.base_url, timeout=TIMEOUT))
    elif name == "vk":
        adapter = VkAdapter("vk", VkTarget(platform=Platform.VK, group_id=GROUP_ID, token=SecretStr(VK_TOKEN),
                                           api_base_url=hole.base_url, timeout=TIMEOUT))
    elif name == "max":
        adapter = MaxAdapter("max", MaxTarget(platform=Platform.MAX, chat_id=str(MAX_CHANNEL), timeout=TIMEOUT,
                                              token=SecretStr(MAX_TOKEN), api_base_url=hole.base_url))
    else:
        adapter = XAdapter("x", XTarget(platform=Platform.X, api_base_url=hole.base_url, timeout=TIMEOUT,
                                        **{key: SecretStr(value) for key, value in X_SECRETS.items()}))
    log = MemoryParts()
    try:
        with pytest.raises(TransientError) as caught:
            await adapter.publish(three_parts(adapter.spec.platform, name), log)
    finally:
        await adapter.aclose()
        hole.close()
    assert type(caught.value) is TransientError
    assert "connecting timed out" in str(caught.value) and "nothing was sent" in str(caught.value)
    assert log.done == ()


@pytest.mark.parametrize("name", NETWORK)
async def test_5xx_is_transient_and_says_what_the_platform_answered(make_side: Callable[[str], Side],
                                                                    name: str) -> None:
    side = make_side(name)
    side.fail_call(1, Fault.SERVER_ERROR)
    with pytest.raises(TransientError) as caught:
        await side.adapter.publish(post_for(side))
    assert type(caught.value) is TransientError
    assert "answered HTTP 50" in str(caught.value) and "cannot reach" not in str(caught.value)


@pytest.mark.parametrize("name", NETWORK)
async def test_429_waits_exactly_as_asked_or_the_documented_default(make_side: Callable[[str], Side],
                                                                   name: str) -> None:
    side = make_side(name)
    side.fail_call(1, Fault.RATE_LIMITED)
    side.fail_call(2, Fault.RATE_LIMITED_NO_WAIT)
    with pytest.raises(RateLimited) as asked:
        await side.adapter.publish(post_for(side))
    with pytest.raises(RateLimited) as unsaid:
        await side.adapter.publish(post_for(side))
    assert asked.value.retry_after == 7
    assert unsaid.value.retry_after == side.default_wait
    assert side.published() == []


@pytest.mark.parametrize("name", NETWORK)
@pytest.mark.parametrize("fault", [Fault.UNAUTHORIZED, Fault.FORBIDDEN], ids=["401", "403"])
async def test_a_revoked_token_or_a_missing_right_is_a_credentials_error(
    make_side: Callable[[str], Side], name: str, fault: Fault
) -> None:
    side = make_side(name)
    side.fail_call(1, fault)
    with pytest.raises(CredentialsError):
        await side.adapter.publish(post_for(side))
    assert side.published() == []


async def test_an_x_duplicate_is_permanent_not_a_credentials_error(make_side: Callable[[str], Side]) -> None:
    side = make_side("x")
    fake: FakeX = side.fake  # type: ignore[assignment]
    fake.duplicate()
    with pytest.raises(PermanentError, match="duplicate") as caught:
        await side.adapter.publish(post_for(side))
    assert type(caught.value) is PermanentError


VK_ERRORS: list[tuple[int, type[PublishError], str, float | None]] = [
    (5, CredentialsError, "community access token", None),
    (6, RateLimited, "error 6", 1.0),
    (9, RateLimited, "flood control", 3600.0),
    (14, CredentialsError, "captcha", None),
    (15, CredentialsError, "wall right", None),
    (27, CredentialsError, "community token", None),
]


@pytest.mark.parametrize(("code", "expected", "words", "wait"), VK_ERRORS, ids=[str(e[0]) for e in VK_ERRORS])
async def test_vk_errors_map_to_what_to_do(make_side: Callable[[str], Side], code: int,
                                           expected: type[PublishError], words: str, wait: float | None) -> None:
    side = make_side("vk")
    fake: FakeVk = side.fake  # type: ignore[assignment]
    fake.fail_with(code, f"VK error {code}", captcha_sid="1", captcha_img="https://api.vk.ru/captcha.php?sid=1")
    with pytest.raises(PublishError) as caught:
        await side.adapter.publish(post_for(side))
    assert type(caught.value) is expected
    assert words in str(caught.value)
    if wait is not None:
        assert isinstance(caught.value, RateLimited) and caught.value.retry_after == wait
    assert VK_TOKEN not in str(caught.value)
    assert fake.posts == []


# -- prepare(): everything before the first byte of a post ---------------------------------------------------


@pytest.mark.parametrize("reply", [FakeTelegram.server_error(), FakeTelegram.slow(TIMEOUT + 1.5),
                                   FakeTelegram.record_then_drop()], ids=["5xx", "late", "drop"])
async def test_a_failed_prepare_is_transient_and_sends_nothing(make_side: Callable[[str], Side],
                                                               reply: Reply) -> None:
    side = make_side("telegram")
    fake: FakeTelegram = side.fake  # type: ignore[assignment]
    fake.fail_method("getMe", reply)
    with pytest.raises(TransientError) as caught:
        await side.adapter.prepare()
    assert type(caught.value) is TransientError  # getMe publishes nothing: never "unknown"
    assert fake.calls("sendMessage") == []


async def test_a_rejected_token_fails_in_prepare_without_quoting_it(make_side: Callable[[str], Side]) -> None:
    side = make_side("telegram")
    fake: FakeTelegram = side.fake  # type: ignore[assignment]
    fake.fail_method("getMe", FakeTelegram.unauthorized())
    with pytest.raises(CredentialsError) as caught:
        await side.adapter.prepare()
    assert TELEGRAM_TOKEN.split(":")[1] not in str(caught.value)
    assert fake.calls("sendMessage") == []


@pytest.mark.parametrize("name", ALL)
async def test_prepare_publishes_nothing(make_side: Callable[[str], Side], name: str) -> None:
    side = make_side(name)
    await side.adapter.prepare()
    await side.adapter.prepare()  # twice is harmless
    assert side.published() == []
    receipt = await side.adapter.publish(post_for(side), MemoryParts())
    assert isinstance(receipt, Receipt) and len(side.published()) == 3


# -- through the registry ------------------------------------------------------------------------------------------

TARGETS = ["telegram", "telegram_ru", "vk", "x", "dzen"]


@pytest.fixture(params=[*TARGETS, "outbox"])
def adapter_under_test(request: pytest.FixtureRequest, platforms: Platforms) -> tuple[str, Adapter]:
    settings = load_config(Path("config")).settings
    if request.param == "outbox":
        return "vk", OutboxAdapter("vk", Platform.VK, Path("var/outbox"))
    return request.param, build_adapter(request.param, settings)


async def test_publishes_the_reference_announcement(adapter_under_test: tuple[str, Adapter], render: RenderFn,
                                                    platforms: Platforms) -> None:
    name, adapter = adapter_under_test
    settings = load_config(Path("config")).settings
    target = settings.targets[name]
    assert adapter.spec is SPECS[target.platform]  # the registry picked the platform's own adapter
    post = render(PostKind.ANNOUNCEMENT, target.platform, target.lang, target=name)
    await adapter.prepare()
    receipt = await adapter.publish(post)
    assert isinstance(receipt, Receipt)
    assert receipt.platform is target.platform and receipt.target == name and receipt.post_id
    assert len(receipt.extra_ids) == len(post.parts) - 1 or target.platform is Platform.DZEN
    await adapter.aclose()
    await adapter.aclose()  # closing twice is harmless


def test_without_credentials_the_registry_gives_the_outbox(workdir: Path) -> None:
    settings = load_config(Path("config")).settings
    for name in TARGETS:
        adapter = build_adapter(name, settings)
        expected = OutboxAdapter if settings.targets[name].platform is not Platform.DZEN else type(adapter)
        assert isinstance(adapter, expected)


def test_the_fault_matrix_names_only_tests_that_exist() -> None:
    root = Path(__file__).resolve().parents[2]
    matrix = (root / "docs" / "faults.md").read_text(encoding="utf-8")
    named = set(re.findall(r"::(test_\w+)", matrix))
    defined = {name for path in (root / "tests").rglob("test_*.py")
               for name in re.findall(r"^(?:async )?def (test_\w+)", path.read_text(encoding="utf-8"), re.M)}
    assert len(named) > 30 and named <= defined, sorted(named - defined)

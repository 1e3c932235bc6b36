"""One contract every adapter keeps, run against each of them through the registry and the fake servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.abc import Adapter
from bot.adapters import OutboxAdapter, build_adapter
from bot.config import load_config
from bot.domain import Platform, PostKind, Receipt
from bot.errors import PublishError, TransientError
from bot.platforms import SPECS
from tests.conftest import Platforms, RenderFn

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
    receipt = await adapter.publish(post)
    assert isinstance(receipt, Receipt)
    assert receipt.platform is target.platform and receipt.target == name and receipt.post_id
    await adapter.aclose()
    await adapter.aclose()  # closing twice is harmless


@pytest.mark.parametrize("name", ["telegram", "vk", "x"])
async def test_an_unreachable_platform_is_a_transient_error(name: str, render: RenderFn, platforms: Platforms) -> None:
    for fake in platforms.fakes:
        fake.stop()  # every platform is unreachable
    settings = load_config(Path("config")).settings
    adapter = build_adapter(name, settings)
    target = settings.targets[name]
    post = render(PostKind.LIVE, target.platform, target.lang, target=name)
    with pytest.raises(PublishError) as info:
        await adapter.publish(post)
    assert isinstance(info.value, TransientError)  # a network failure is worth retrying
    await adapter.aclose()


def test_without_credentials_the_registry_gives_the_outbox(workdir: Path) -> None:
    settings = load_config(Path("config")).settings
    for name in TARGETS:
        adapter = build_adapter(name, settings)
        expected = OutboxAdapter if settings.targets[name].platform is not Platform.DZEN else type(adapter)
        assert isinstance(adapter, expected)

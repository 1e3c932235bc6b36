"""The explicit registry from platform to adapter; a target without credentials publishes to the outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import Any

from bot.abc import Adapter
from bot.adapters.outbox import OutboxAdapter
from bot.config.settings import Settings
from bot.domain import Platform

# Imported only when a target of the platform has credentials, so the core never loads a platform SDK.
REGISTRY: dict[Platform, str] = {
    Platform.TELEGRAM: "bot.adapters.telegram:TelegramAdapter",
    Platform.VK: "bot.adapters.vk:VkAdapter",
    Platform.X: "bot.adapters.x:XAdapter",
    Platform.DZEN: "bot.adapters.dzen:DzenAdapter",
    Platform.MAX: "bot.adapters.max:MaxAdapter",
}


def adapter_class(platform: Platform) -> Callable[[str, Any], Adapter]:
    """The adapter class of `platform`, constructed as `cls(target_name, target_settings)`."""
    module, _, name = REGISTRY[platform].partition(":")
    cls: Callable[[str, Any], Adapter] = getattr(import_module(module), name)
    return cls


def build_adapter(name: str, settings: Settings) -> Adapter:
    """The adapter for target `name`: the platform's own, or the outbox when credentials are missing."""
    target: Any = settings.targets[name]
    if not target.has_credentials:
        return OutboxAdapter(name, target.platform, settings.outbox.dir)
    return adapter_class(target.platform)(name, target)


def build_notifier(settings: Settings) -> Callable[[str], Awaitable[None]] | None:
    """Sends alerts to the admin chat through a Telegram target's bot, if both are configured."""
    chat = settings.admin.chat_id
    target: Any = settings.targets.get(settings.admin.bot_target)
    if not chat or target is None or target.platform is not Platform.TELEGRAM or not target.has_credentials:
        return None
    from bot.adapters.telegram import telegram_notifier

    return telegram_notifier(target, chat)


__all__ = ["REGISTRY", "Adapter", "OutboxAdapter", "adapter_class", "build_adapter", "build_notifier"]

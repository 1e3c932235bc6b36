"""The subscriber bot: one chat core (bot/chat/core.py and a module per feature) on two messengers, Telegram (a
python-telegram-bot Application built from the config, bot/chat/telegram.py) and MAX (bot/chat/max.py)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.alerts import Alerts
from bot.chat import flood, reactions, telegram
from bot.chat.approvals import Approvals
from bot.chat.broadcast import Broadcaster, progress_lines
from bot.chat.core import ChatUnavailable, Services
from bot.chat.features import COMMANDS, routes
from bot.chat.health import ChatHealth, PollingMonitor, PollState
from bot.chat.limiter import SharedRateLimiter
from bot.chat.polling import PollingBot, UpdatesRequest, quiet_batch_errors
from bot.chat.texts import LANGS, command_description
from bot.clock import Clock, utcnow
from bot.config import AppConfig
from bot.config.live import LiveConfig
from bot.config.settings import ChatSettings, TelegramTarget
from bot.domain import Platform
from bot.operations import Operations
from bot.ratelimit import RateLimits, TokenLimits
from bot.storage.reminders import Progress

log = logging.getLogger("announce_bot.chat")

ChatApp = Application[Any, Any, Any, Any, Any, Any]
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

# Every kind of update, listed: Telegram sends message_reaction_count (the channel posts' reactions, for the reach
# report) only to a bot that names it in allowed_updates; an empty list would leave it out.
ALLOWED_UPDATES: list[str] = list(Update.ALL_TYPES)


def bot_target(config: AppConfig) -> TelegramTarget:
    chat = config.settings.chat
    target = config.settings.targets.get(chat.bot_target)
    if not isinstance(target, TelegramTarget) or target.platform is not Platform.TELEGRAM:
        raise ChatUnavailable(f"[chat] bot_target {chat.bot_target!r} is not a Telegram target in settings.toml")
    return target


def base_urls(target: TelegramTarget) -> tuple[str, str]:
    """The Bot API and file URLs for `target` (PTB appends the token, or puts it where `{token}` is)."""
    base = target.api_base_url
    if not base:
        return DEFAULT_BASE_URL, "https://api.telegram.org/file/bot"
    if "{token}" in base:
        return base, base.replace("/bot{token}", "/file/bot{token}")
    return f"{base.rstrip('/')}/bot", f"{base.rstrip('/')}/file/bot"


def build_application(
    live: LiveConfig,
    operations: Operations,
    *,
    clock: Clock = utcnow,
    concurrent_updates: int = 16,
    limits: RateLimits | None = None,
    approvals: Approvals | None = None,
) -> ChatApp:
    """The Application for `[chat] bot_target`'s bot, with every feature's handlers; `services` in bot_data, and the
    approval requests (which a MAX chat bot may join).

    Every request it makes goes through the token's limits in `limits` (the runtime's, shared with the channel
    posts of that token; else limits of its own); `token_limits(application)` returns them."""
    config = live.current
    target = bot_target(config)
    token = target.secret("token")
    if not token:
        raise ChatUnavailable(f"Telegram target {config.settings.chat.bot_target!r} has no bot token")
    _quiet_loggers()
    quiet_batch_errors()
    base, files = base_urls(target)
    wait = target.timeout
    shared = (limits or RateLimits(enabled=config.settings.delivery.rate_limit)).for_token(Platform.TELEGRAM, token)

    def client(kind: type[HTTPXRequest], pool: int) -> Any:
        return kind(connection_pool_size=pool, connect_timeout=wait, read_timeout=wait, write_timeout=wait,
                    pool_timeout=wait)

    bot = PollingBot(token, base_url=base, base_file_url=files, request=client(HTTPXRequest, 32),
                     updates_request=client(UpdatesRequest, 1), rate_limiter=SharedRateLimiter(shared),
                     monitor=PollingMonitor(config.settings.chat.mode, clock))
    application: ChatApp = ApplicationBuilder().bot(bot).concurrent_updates(concurrent_updates).build()
    services = Services(live=live, subscribers=operations.subscribers, messenger=Platform.TELEGRAM, clock=clock,
                        operations=operations, progress=lambda: progress_lines(operations.reminders))
    application.bot_data["services"] = services
    application.bot_data["limits"] = shared
    # The same clock as everything else, so that tests can hold time still instead of racing the refill.
    gate = flood_gate(config.settings.chat, clock)
    application.bot_data["throttle"] = gate
    application.add_handler(telegram.gate(services, gate), group=-1)
    application.add_handlers(reactions.handlers(services))  # Telegram's own: the channel posts' reactions
    requests = approvals or Approvals(live, operations)
    requests.join(telegram.TelegramAsker(bot))
    application.bot_data["approvals"] = requests
    application.add_handlers(telegram.handlers(services, routes(services, requests)))
    application.add_error_handler(telegram.error_handler)
    return application


def flood_gate(settings: ChatSettings, clock: Clock) -> flood.Throttle:
    return flood.Throttle(settings.flood_burst, settings.flood_rate, clock=lambda: clock().timestamp())


def token_limits(application: ChatApp) -> TokenLimits:
    limits: TokenLimits = application.bot_data["limits"]
    return limits


def _quiet_loggers() -> None:
    # Every Bot API URL holds the token: httpx logs URLs at INFO and PTB at DEBUG. Keep both at WARNING.
    for name in ("httpx", "httpcore", "telegram"):
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


async def post_init(application: ChatApp) -> None:
    """After initialize(): learn the bot's @username (for deep links) and publish the command menus."""
    services: Services = application.bot_data["services"]
    services.bot_username = application.bot.username or services.bot_username
    for code in LANGS:
        commands = [BotCommand(name, command_description(name, code)) for name in COMMANDS]
        await application.bot.set_my_commands(commands, scope=BotCommandScopeDefault(),
                                              language_code=None if code == "en" else code)


@dataclass(kw_only=True, repr=False)
class ChatBot:
    """The running subscriber bot: the Application (polling or webhook) and the reminder broadcaster."""

    def __repr__(self) -> str:  # PTB's own repr of the Application shows the bot token
        return f"ChatBot(mode={self.settings.mode!r}, target={self.settings.bot_target!r})"

    application: ChatApp
    broadcaster: Broadcaster
    settings: ChatSettings
    poll_timeout: int = 10

    @property
    def services(self) -> Services:
        services: Services = self.application.bot_data["services"]
        return services

    async def start(self) -> None:
        app = self.application
        await app.initialize()
        await post_init(app)
        await app.start()
        updater = app.updater
        assert updater is not None
        if self.settings.mode == "webhook":
            secret = self.settings.secret()
            assert secret is not None and self.settings.webhook_url  # checked by chat_bot()
            await updater.start_webhook(
                listen=self.settings.webhook_listen, port=self.settings.webhook_port,
                url_path=self.settings.webhook_path, webhook_url=self.settings.webhook_url,
                secret_token=secret, allowed_updates=ALLOWED_UPDATES,
            )
            self.monitor.webhook()
        else:
            # PTB's network loop backs off after errors; the monitor logs them (PTB's default logs each one
            # with a traceback).
            await updater.start_polling(poll_interval=0.0, timeout=self.poll_timeout,
                                        allowed_updates=ALLOWED_UPDATES, error_callback=lambda _: None)
        await self.broadcaster.start()
        await self.approvals.start()

    @property
    def approvals(self) -> Approvals:
        requests: Approvals = self.application.bot_data["approvals"]
        return requests

    @property
    def monitor(self) -> PollingMonitor:
        bot: PollingBot = self.application.bot
        return bot.monitor

    def health(self) -> ChatHealth:
        """How updates arrive: polling ok or failing since when, the last error, updates skipped."""
        return self.monitor.health()

    async def stop(self) -> None:
        """Stop every part, each even if another failed: this never raises, so a SIGTERM ends cleanly."""
        app = self.application

        async def updater() -> None:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()

        async def application() -> None:
            if app.running:
                await app.stop()

        for part, step in (("the approval requests", partial(self.approvals.leave, Platform.TELEGRAM)),
                           ("the reminder broadcaster", self.broadcaster.stop), ("receiving updates", updater),
                           ("handling updates", application), ("the Bot API client", app.shutdown)):
            try:
                await step()
            except Exception as exc:
                detail = exc.message if isinstance(exc, TelegramError) else str(exc)
                log.warning("stopping the chat bot: %s did not stop cleanly: %s %s", part, type(exc).__name__, detail)
        self.monitor.stopped()


def chat_bot(
    live: LiveConfig,
    operations: Operations,
    *,
    alerts: Alerts | None = None,
    clock: Clock = utcnow,
    observer: Callable[[list[Progress]], None] | None = None,
    poll_timeout: int = 10,
    worker: str | None = None,
    limits: RateLimits | None = None,
    approvals: Approvals | None = None,
) -> ChatBot:
    """The chat bot for the running configuration, ready to start; ChatUnavailable says why it cannot run.
    `approvals`: the process's approval requests, when a MAX chat bot asks through them too."""
    settings = live.current.settings.chat
    if not settings.enabled:
        raise ChatUnavailable("[chat] enabled = false")
    if settings.mode == "webhook":
        secret = settings.secret()
        if not settings.webhook_url:
            raise ChatUnavailable("[chat] mode = \"webhook\" needs webhook_url (the public HTTPS address)")
        if not secret or not _SECRET.match(secret):
            raise ChatUnavailable("[chat] webhook mode needs webhook_secret (1-256 of A-Z a-z 0-9 _ -), set "
                                  "ANNOUNCE_BOT_CHAT__WEBHOOK_SECRET or webhook_secret_file")
    application = build_application(live, operations, clock=clock, limits=limits,
                                    approvals=approvals)
    services: Services = application.bot_data["services"]
    courier = telegram.TelegramCourier(application.bot)
    broadcaster = Broadcaster(live, operations.reminders, courier, token_limits(application), chats=services.chats,
                              alerts=alerts, clock=clock, key=services.key, observer=observer,
                              worker=f"chat:{worker}" if worker else None)
    return ChatBot(application=application, broadcaster=broadcaster, settings=settings, poll_timeout=poll_timeout)


__all__ = ["Approvals", "ChatBot", "ChatHealth", "ChatUnavailable", "PollState", "Services", "build_application",
           "chat_bot"]

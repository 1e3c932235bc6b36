"""Organisers' commands (user ids from `[admin] user_ids`): /status, /post, /retry, /reload, /stats."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.chat.core import Context, Services, reply
from bot.chat.texts import LANG_NAMES, Raw, esc, t
from bot.config import load_config
from bot.domain import PostKind
from bot.errors import ConfigError
from bot.importing import import_events
from bot.storage.tables import PlannedPostRow

log = logging.getLogger("announce_bot.chat.admin")
_RETRYABLE = frozenset({"failed", "unknown", "skipped", "retrying"})

Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def admin_only(services: Services, command: str) -> Callable[[Handler], Handler]:
    """Refuse politely, and log, anyone who is not listed in `[admin] user_ids`."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(update: Update, context: Context) -> None:
            user = update.effective_user
            if not services.is_admin(user.id if user else None):
                chat = update.effective_chat
                log.warning("refused /%s from user %s in chat %s: not an admin", command,
                            user.id if user else "?", chat.id if chat else "?")
                await reply(update, context, t("admin_only", services.lang(update)))
                return
            await handler(update, context)

        return checked

    return wrap


class Admin:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def status(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        posts = await asyncio.to_thread(services.store.posts)
        upcoming = sorted((p for p in posts if p.state in ("planned", "retrying")),
                          key=lambda p: p.next_attempt_at or p.due_at)[:8]
        failures = sorted((p for p in posts if p.state in ("failed", "unknown")),
                          key=lambda p: p.updated_at, reverse=True)[:5]
        next_lines = [
            f"#{p.id} {(p.next_attempt_at or p.due_at).astimezone(UTC):%Y-%m-%d %H:%M} UTC "
            f"{esc(p.event_id)} {esc(p.step_id)} → {esc(p.target)}" + (" (retrying)" if p.state == "retrying" else "")
            for p in upcoming
        ]
        failure_lines = [
            f"#{p.id} {esc(p.event_id)} {esc(p.step_id)} → {esc(p.target)}: {p.state}: {esc((p.reason or '')[:200])}"
            for p in failures
        ]
        reminders = [esc(line) for line in (services.progress() if services.progress else [])]
        nothing = t("nothing", lang)
        await reply(update, context, t(
            "admin_status", lang, next=Raw("\n".join(next_lines) or nothing),
            failures=Raw("\n".join(failure_lines) or nothing), reminders=Raw("\n".join(reminders) or nothing)))

    async def post(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        args = context.args or []
        kinds = ", ".join(kind.value for kind in PostKind)
        kind = next((k for k in PostKind if len(args) == 2 and args[1].lower() == k.value), None)
        event = services.resolve(args[0]) if args else None
        if len(args) != 2 or kind is None or services.publisher is None:
            await reply(update, context, t("post_usage", lang, kinds=kinds))
            return
        if event is None:
            await reply(update, context, t("event_not_found", lang, id=args[0][:64]))
            return
        targets = services.publisher.targets_for(kind)
        if not targets:
            await reply(update, context, t("post_none", lang, kind=kind.value))
            return
        outcomes = await services.publisher.publish(event, kind, targets)
        lines = [
            f"✓ {esc(o.target)}: {esc(o.receipt.link or o.receipt.post_id)}" if o.receipt is not None
            else f"✗ {esc(o.target)}: {esc(str(o.error)[:300])}"
            for o in outcomes
        ]
        await reply(update, context, t("post_done", lang, kind=kind.value, id=event.id, results=Raw("\n".join(lines))))

    async def retry(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        raw = (context.args or [""])[0].lstrip("#")
        if not raw.isdigit() or len(raw) > 12:
            await reply(update, context, t("retry_usage", lang))
            return
        with services.store.sessions() as session:
            before = session.get(PlannedPostRow, int(raw))
        if before is None:
            await reply(update, context, t("retry_missing", lang, id=raw))
            return
        if before.state not in _RETRYABLE:
            await reply(update, context, t("retry_refused", lang, id=raw, state=before.state))
            return
        post = services.claims.retry(int(raw), services.clock())
        if post is None or post.state != "planned":
            await reply(update, context, t("retry_refused", lang, id=raw, state=post.state if post else "?"))
            return
        if services.on_retry is not None:
            await services.on_retry()
        await reply(update, context, t("retry_done", lang, id=raw, event=post.event_id, step=post.step_id,
                                       target=post.target))

    async def reload(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        try:
            config = await asyncio.to_thread(load_config, services.config.config_dir)
        except ConfigError as exc:
            await reply(update, context, t("reload_failed", lang, error=str(exc)[:3000]))
            return
        report = await asyncio.to_thread(import_events, config, services.store, services.clock())
        services.config = config
        changed = sum(result.outcome != "unchanged" for result in report.results)
        await reply(update, context, t("reload_done", lang, events=len(report.results), changed=changed,
                                       errors=len(report.errors)))

    async def stats(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        stats = services.chats.stats()
        langs = "\n".join(f"• {LANG_NAMES.get(code, code)}: {count}" for code, count in sorted(stats.by_lang.items()))
        await reply(update, context, t("stats", lang, people=stats.people, inactive=stats.inactive,
                                       subscribed=stats.subscribed, langs=langs))


def handlers(services: Services) -> list[BaseHandler[Update, Any, Any]]:
    feature = Admin(services)
    new = filters.UpdateType.MESSAGE
    return [
        CommandHandler(name, admin_only(services, name)(getattr(feature, name)), filters=new)
        for name in ("status", "post", "retry", "reload", "stats")
    ]

"""Organisers' commands (user ids from `[admin] user_ids`): /status, /post, /golive, /recording, /retry, /reload,
/stats."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.chat.core import Context, Services, reply
from bot.chat.texts import LANG_NAMES, Raw, esc, t
from bot.domain import CLAIMABLE, PostKind, PostState
from bot.operations import ActionResult, Operations, Result
from bot.streams import parse_links

log = logging.getLogger("announce_bot.chat.admin")

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
    """The admin commands: each reads through, or acts through, the operations layer like every other front end."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _operations(self) -> Operations | None:
        return self.services.operations

    async def status(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        ops = self._operations()
        posts = await asyncio.to_thread(ops.posts) if ops is not None else []
        upcoming = sorted((p for p in posts if p.state in CLAIMABLE), key=lambda p: p.when)[:8]
        failures = sorted((p for p in posts if p.state in (PostState.FAILED, PostState.UNKNOWN)),
                          key=lambda p: p.updated_at or p.due_at, reverse=True)[:5]
        next_lines = [
            f"#{p.id} {p.when.astimezone(UTC):%Y-%m-%d %H:%M} UTC "
            f"{esc(p.event_id)} {esc(p.step_id)} → {esc(p.target)}"
            + (" (retrying)" if p.state is PostState.RETRYING else "")
            for p in upcoming
        ]
        failure_lines = [
            f"#{p.id} {esc(p.event_id)} {esc(p.step_id)} → {esc(p.target)}: {p.state.value}: "
            f"{esc((p.reason or '')[:200])}"
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
        kind = next((k for k in PostKind if len(args) >= 2 and args[1].lower() == k.value), None)
        again = len(args) == 3 and args[2].lower() in ("again", "--again")
        ops = self._operations()
        if len(args) not in (2, 3) or kind is None or ops is None or (len(args) == 3 and not again):
            await reply(update, context, t("post_usage", lang, kinds=kinds))
            return
        event = services.resolve(args[0])
        if event is None:
            await reply(update, context, t("event_not_found", lang, id=args[0][:64]))
            return
        user = update.effective_user
        results = await ops.publish(event.id, kind, again=again, actor=f"telegram:{user.id}" if user else None)
        lines = [f"{'✓' if r.ok else '✗'} {esc(r.target or '')}: {esc(r.message[:300])}" for r in results]
        await reply(update, context, t("post_done", lang, kind=kind.value, id=event.id, results=Raw("\n".join(lines))))

    async def _with_links(self, update: Update, context: Context, usage: str, least: int
                          ) -> tuple[Operations, str, dict[str, str], str | None] | None:
        """`/command <event> <link>…`: the operations, the event's id, the links and who asks; None (after saying
        why) when the command is not complete or names no event."""
        services = self.services
        lang = services.lang(update)
        args = context.args or []
        ops = self._operations()
        if len(args) < least or ops is None:
            await reply(update, context, t(usage, lang))
            return None
        event = services.resolve(args[0])
        if event is None:
            await reply(update, context, t("event_not_found", lang, id=args[0][:64]))
            return None
        user = update.effective_user
        return ops, event.id, parse_links(args[1:]), f"telegram:{user.id}" if user else None

    async def golive(self, update: Update, context: Context) -> None:
        asked = await self._with_links(update, context, "golive_usage", 1)
        if asked is None:
            return
        ops, event_id, links, actor = asked
        result = await ops.go_live(event_id, links, actor=actor)
        lines = _outcome(result.message, result.posts)
        if result.reminders:
            lines.append(t("golive_reminders", self.services.lang(update), count=result.reminders))
        await reply(update, context, "\n".join(lines))

    async def recording(self, update: Update, context: Context) -> None:
        asked = await self._with_links(update, context, "recording_usage", 2)
        if asked is None:
            return
        ops, event_id, links, actor = asked
        result = await ops.recording(event_id, links, actor=actor)
        await reply(update, context, "\n".join(_outcome(result.message, result.posts)))

    async def retry(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        raw = (context.args or [""])[0].lstrip("#")
        ops = self._operations()
        if not raw.isdigit() or len(raw) > 12 or ops is None:
            await reply(update, context, t("retry_usage", lang))
            return
        user = update.effective_user
        result = await ops.retry(int(raw), actor=f"telegram:{user.id}" if user else None)
        if result.result is Result.NOT_FOUND:
            await reply(update, context, t("retry_missing", lang, id=raw))
        elif result.post is None or not result.ok:
            await reply(update, context, t("retry_refused", lang, id=raw, reason=result.message))
        else:
            post = result.post
            await reply(update, context, t("retry_done", lang, id=raw, event=post.event_id, step=post.step_id,
                                           target=post.target))

    async def reload(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        ops = self._operations()
        if ops is None:
            return
        user = update.effective_user
        result = await ops.reload(actor=f"telegram:{user.id}" if user else None)
        if not result.ok or result.report is None:
            await reply(update, context, t("reload_failed", lang, error=result.message[:3000]))
            return
        report = result.report
        changed = sum(r.outcome not in ("unchanged", "ignored") for r in report.results)
        await reply(update, context, t("reload_done", lang, events=len(report.results), changed=changed,
                                       errors=len(report.errors)))

    async def stats(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        stats = services.chats.stats()
        langs = "\n".join(f"• {LANG_NAMES.get(code, code)}: {count}" for code, count in sorted(stats.by_lang.items()))
        await reply(update, context, t("stats", lang, people=stats.people, inactive=stats.inactive,
                                       subscribed=stats.subscribed, langs=langs))


def _outcome(message: str, posts: Sequence[ActionResult]) -> list[str]:
    """What an operation said, and a line per post it sent (✓ or ✗, where, what came of it)."""
    return [esc(message[:500]), *(f"{'✓' if r.ok else '✗'} {esc(r.target or '')}: {esc(r.message[:300])}"
                                  for r in posts)]


def handlers(services: Services) -> list[BaseHandler[Update, Any, Any]]:
    feature = Admin(services)
    new = filters.UpdateType.MESSAGE
    return [
        CommandHandler(name, admin_only(services, name)(getattr(feature, name)), filters=new)
        for name in ("status", "post", "golive", "recording", "retry", "reload", "stats")
    ]

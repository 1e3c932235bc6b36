"""Organisers' commands (`[admin] user_ids`, on MAX `max_user_ids`): /status, /post, /golive, /recording, /retry,
/reload, /stats."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from datetime import UTC

from bot.chat.core import Handler, Incoming, Replies, Routes, Services
from bot.chat.texts import LANG_NAMES, Raw, esc, t, tn
from bot.domain import CLAIMABLE, PostKind, PostState
from bot.operations import ActionResult, Operations, Result
from bot.streams import parse_links

log = logging.getLogger("announce_bot.chat.admin")


def admin_only(services: Services, command: str, handler: Handler) -> Handler:
    """Refuse politely, and log, anyone who is not listed in `[admin] user_ids` (on MAX, `max_user_ids`)."""

    @functools.wraps(handler)
    async def checked(msg: Incoming, out: Replies) -> None:
        if not services.is_admin(msg):
            log.warning("refused /%s from user %s in chat %s on %s: not an admin", command,
                        msg.user_id if msg.user_id is not None else "?",
                        msg.chat_id if msg.chat_id is not None else "?", msg.messenger)
            await out.send(t("admin_only", await services.lang(msg)))
            return
        await handler(msg, out)

    return checked


class Admin:
    """The admin commands: each reads through, or acts through, the operations layer like every other front end."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _operations(self) -> Operations | None:
        return self.services.operations

    async def status(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        lang = await services.lang(msg)
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
        reminders = [esc(line) for line in (await services.read(services.progress) if services.progress else [])]
        nothing = t("nothing", lang)
        await out.send(t(
            "admin_status", lang, next=Raw("\n".join(next_lines) or nothing),
            failures=Raw("\n".join(failure_lines) or nothing), reminders=Raw("\n".join(reminders) or nothing)))

    async def post(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        lang = await services.lang(msg)
        args = msg.args
        kinds = ", ".join(kind.value for kind in PostKind)
        kind = next((k for k in PostKind if len(args) >= 2 and args[1].lower() == k.value), None)
        again = len(args) == 3 and args[2].lower() in ("again", "--again")
        ops = self._operations()
        if len(args) not in (2, 3) or kind is None or ops is None or (len(args) == 3 and not again):
            await out.send(t("post_usage", lang, kinds=kinds))
            return
        event = await services.resolve(args[0])
        if event is None:
            await out.send(t("event_not_found", lang, id=args[0][:64]))
            return
        results = await ops.publish(event.id, kind, again=again, actor=msg.actor)
        lines = [f"{'✓' if r.ok else '✗'} {esc(r.target or '')}: {esc(r.message[:300])}" for r in results]
        await out.send(t("post_done", lang, kind=kind.value, id=event.id, results=Raw("\n".join(lines))))

    async def _with_links(self, msg: Incoming, out: Replies, usage: str, least: int
                          ) -> tuple[Operations, str, dict[str, str]] | None:
        """`/command <event> <link>…`: the operations, the event's id and the links; None (after saying why) when
        the command is not complete or names no event."""
        services = self.services
        lang = await services.lang(msg)
        args = msg.args
        ops = self._operations()
        if len(args) < least or ops is None:
            await out.send(t(usage, lang))
            return None
        event = await services.resolve(args[0])
        if event is None:
            await out.send(t("event_not_found", lang, id=args[0][:64]))
            return None
        return ops, event.id, parse_links(args[1:])

    async def golive(self, msg: Incoming, out: Replies) -> None:
        asked = await self._with_links(msg, out, "golive_usage", 1)
        if asked is None:
            return
        ops, event_id, links = asked
        result = await ops.go_live(event_id, links, actor=msg.actor)
        lines = _outcome(result.message, result.posts)
        if result.reminders:
            lines.append(tn("golive_reminders", result.reminders, await self.services.lang(msg)))
        await out.send("\n".join(lines))

    async def recording(self, msg: Incoming, out: Replies) -> None:
        asked = await self._with_links(msg, out, "recording_usage", 2)
        if asked is None:
            return
        ops, event_id, links = asked
        result = await ops.recording(event_id, links, actor=msg.actor)
        await out.send("\n".join(_outcome(result.message, result.posts)))

    async def retry(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        lang = await services.lang(msg)
        raw = (msg.args or ("",))[0].lstrip("#")
        ops = self._operations()
        if not raw.isdigit() or len(raw) > 12 or ops is None:
            await out.send(t("retry_usage", lang))
            return
        result = await ops.retry(int(raw), actor=msg.actor)
        if result.result is Result.NOT_FOUND:
            await out.send(t("retry_missing", lang, id=raw))
        elif result.post is None or not result.ok:
            await out.send(t("retry_refused", lang, id=raw, reason=result.message))
        else:
            post = result.post
            await out.send(t("retry_done", lang, id=raw, event=post.event_id, step=post.step_id,
                                           target=post.target))

    async def reload(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        lang = await services.lang(msg)
        ops = self._operations()
        if ops is None:
            return
        result = await ops.reload(actor=msg.actor)
        if not result.ok or result.report is None:
            await out.send(t("reload_failed", lang, error=result.message[:3000]))
            return
        report = result.report
        changed = sum(r.outcome not in ("unchanged", "ignored") for r in report.results)
        await out.send(t("reload_done", lang, events=len(report.results), changed=changed,
                                       errors=len(report.errors)))

    async def stats(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        lang = await services.lang(msg)
        stats = await services.read(services.chats.stats)
        langs = "\n".join(f"• {LANG_NAMES.get(code, code)}: {count}" for code, count in sorted(stats.by_lang.items()))
        await out.send(t("stats", lang, people=stats.people, inactive=stats.inactive,
                                       subscribed=stats.subscribed, langs=langs))


def _outcome(message: str, posts: Sequence[ActionResult]) -> list[str]:
    """What an operation said, and a line per post it sent (✓ or ✗, where, what came of it)."""
    return [esc(message[:500]), *(f"{'✓' if r.ok else '✗'} {esc(r.target or '')}: {esc(r.message[:300])}"
                                  for r in posts)]


def routes(services: Services) -> Routes:
    feature = Admin(services)
    names = ("status", "post", "golive", "recording", "retry", "reload", "stats")
    return Routes(commands={name: admin_only(services, name, getattr(feature, name)) for name in names})

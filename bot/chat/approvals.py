"""Approval in the chat bots: each approver gets a post as it will look, one message per platform, with Approve /
Skip / Open in dashboard, on Telegram and on MAX; the buttons act through the operations layer, so the dashboard
and the CLI see the same."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from bot.chat.callbacks import Approve, Skip
from bot.chat.core import Button, Incoming, Keyboard, Replies, Routes, Services, clip, keyboard
from bot.chat.texts import esc
from bot.config.live import LiveConfig
from bot.domain import PlannedPost, Platform, RenderedPost
from bot.links import absolute
from bot.operations import Operations
from bot.platforms import SPECS, Markup, PlatformSpec

log = logging.getLogger("announce_bot.chat.approvals")


def request_text(post: PlannedPost, rendered: RenderedPost | None, spec: PlatformSpec = SPECS[Platform.TELEGRAM]
                 ) -> str:
    """The approver's message: what, where and when, then the post as it will be published."""
    target = SPECS[post.platform]
    head = (f"<b>Approval needed</b> · #{post.id} {esc(post.event_id)} {esc(post.step_id)}\n"
            f"→ {esc(post.target)} ({target.label}, {esc(post.lang)}), due {post.due_at:%Y-%m-%d %H:%M} UTC\n")
    if rendered is None:
        return head + "\n<i>It cannot be rendered: see the dashboard.</i>"
    html = target.markup in (Markup.TELEGRAM_HTML, Markup.MAX_HTML)  # the chat bots' own markup, near enough
    return clip(head + "\n" + (rendered.text if html else esc(rendered.text)), spec)


class Asker(Protocol):
    """Sends an approval request to one approver on one messenger."""

    messenger: Platform

    async def ask(self, approver: int, text: str, buttons: Keyboard) -> bool:
        """Whether it was delivered (a failure is logged: one approver's chat failing stops no one else)."""


class Approvals:
    """Asks the approvers (`Operations.approver_chats`: on Telegram `[admin] approver_ids`, else the admins, and
    dashboard users with the approver role who signed in with Telegram; on MAX `[admin] max_approver_ids`) about
    posts coming due, on every messenger that `join`ed, in one round (a post is marked asked once all were), and
    takes their answer."""

    def __init__(self, live: LiveConfig, operations: Operations | None, interval: float = 30.0) -> None:
        self.live = live
        self.operations = operations
        self.interval = interval
        self.askers: dict[Platform, Asker] = {}
        self._task: asyncio.Task[None] | None = None
        self._asking = asyncio.Lock()  # one round of requests at a time: nobody is asked twice

    def join(self, asker: Asker) -> None:
        self.askers[asker.messenger] = asker

    def keyboard(self, post: PlannedPost) -> Keyboard:
        dashboard = absolute(self.live.current.settings.web, f"/admin/events/{post.event_id}#post-{post.id}")
        return keyboard([Button(text="✅ Approve", data=Approve(post.id)), Button(text="Skip", data=Skip(post.id))],
                        [Button(text="Open in dashboard", url=dashboard)] if dashboard else [])

    async def ask(self) -> int:
        """Send every request that is due; returns how many posts were asked about."""
        async with self._asking:
            return await self._ask()

    async def _ask(self) -> int:
        ops = self.operations
        if ops is None or not self.askers:
            return 0
        askers = dict(self.askers)  # a messenger joining meanwhile is asked from the next round on
        approvers = {messenger: sorted(await asyncio.to_thread(ops.approver_chats, messenger)) for messenger in askers}
        if not any(approvers.values()):
            return 0
        requests = await asyncio.to_thread(ops.approval_requests)
        asked = []
        for post, rendered in requests:
            delivered = False
            for messenger, asker in askers.items():
                text = request_text(post, rendered, SPECS[messenger])
                for approver in approvers[messenger]:
                    delivered = await asker.ask(approver, text, self.keyboard(post)) or delivered
            if delivered:
                asked.append(post.id)
        if asked:
            await asyncio.to_thread(ops.mark_asked, asked)
        return len(asked)

    async def start(self) -> None:
        """Ask every `interval` seconds until stopped (a second start, by another messenger's bot, changes nothing)."""
        if self._task is not None:
            return

        async def loop() -> None:
            while True:
                # First after an interval: the other messenger's bot, starting beside this one, joins by then (a
                # post is asked about once, on the messengers that had joined).
                await asyncio.sleep(self.interval)
                try:
                    await self.ask()
                except Exception:
                    log.exception("could not send the approval requests")

        self._task = asyncio.create_task(loop(), name="approval-requests")

    async def leave(self, messenger: Platform) -> None:
        """A messenger's bot stops: its approvers are not asked any more; the last one to leave stops the asking."""
        self.askers.pop(messenger, None)
        if not self.askers:
            await self.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def routes(self, services: Services) -> Routes:
        """The Approve and Skip buttons of `services`' messenger."""

        async def answered(msg: Incoming, out: Replies) -> None:
            ops = self.operations
            if msg.user_id is None or ops is None:
                return
            if msg.user_id not in await asyncio.to_thread(ops.approver_chats, services.messenger):
                log.warning("refused an approval answer from user %s on %s: not an approver", msg.user_id,
                            services.messenger)
                await out.answer("Only the approvers may answer this.")
                return
            approve, skip = Approve.unpack(msg.data), Skip.unpack(msg.data)
            label = SPECS[services.messenger].label
            who = msg.handle or str(msg.user_id)
            if approve is not None:
                result = await ops.approve(approve.post, actor=msg.actor)
            elif skip is not None:
                result = await ops.skip(skip.post, actor=msg.actor, reason=f"skipped by {who} in {label}")
            else:
                await out.answer()
                return
            await out.answer(result.message[:200])
            if result.ok:
                await out.drop_buttons()
                mark = "✅ approved" if approve is not None else "⏭ skipped"
                await out.send(f"{mark} by {esc(who)}: {esc(result.message)}", reply=True)

        return Routes(buttons={Approve: answered, Skip: answered})

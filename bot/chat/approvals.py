"""Approval in Telegram: each approver gets a post as it will look, one message per platform, with Approve / Skip /
Open in dashboard; the buttons act through the operations layer, so the dashboard and the CLI see the same."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.chat.core import Context, Services, answer, clip
from bot.chat.texts import esc
from bot.domain import PlannedPost, RenderedPost
from bot.links import absolute
from bot.platforms import SPECS, Markup

log = logging.getLogger("announce_bot.chat.approvals")

APPROVE, SKIP = "apv", "apx"


def request_text(post: PlannedPost, rendered: RenderedPost | None) -> str:
    """The approver's message: what, where and when, then the post as it will be published."""
    spec = SPECS[post.platform]
    head = (f"<b>Approval needed</b> · #{post.id} {esc(post.event_id)} {esc(post.step_id)}\n"
            f"→ {esc(post.target)} ({spec.label}, {esc(post.lang)}), due {post.due_at:%Y-%m-%d %H:%M} UTC\n")
    if rendered is None:
        return head + "\n<i>It cannot be rendered: see the dashboard.</i>"
    body = rendered.text if spec.markup is Markup.TELEGRAM_HTML else esc(rendered.text)
    return clip(head + "\n" + body)


class Approvals:
    """Asks the approvers (`Operations.approver_chats`: `[admin] approver_ids`, else the admins, and dashboard users
    with the approver role who signed in with Telegram) about posts coming due, and takes their answer."""

    def __init__(self, services: Services, interval: float = 30.0) -> None:
        self.services = services
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._asking = asyncio.Lock()  # one round of requests at a time: nobody is asked twice

    def keyboard(self, post: PlannedPost) -> InlineKeyboardMarkup:
        buttons = [InlineKeyboardButton("✅ Approve", callback_data=f"{APPROVE}:{post.id}"),
                   InlineKeyboardButton("Skip", callback_data=f"{SKIP}:{post.id}")]
        rows = [buttons]
        dashboard = absolute(self.services.config.settings.web, f"/admin/events/{post.event_id}#post-{post.id}")
        if dashboard:
            rows.append([InlineKeyboardButton("Open in dashboard", url=dashboard)])
        return InlineKeyboardMarkup(rows)

    async def ask(self, bot: Any) -> int:
        """Send every request that is due; returns how many posts were asked about."""
        async with self._asking:
            return await self._ask(bot)

    async def _ask(self, bot: Any) -> int:
        ops = self.services.operations
        if ops is None:
            return 0
        approvers = sorted(await asyncio.to_thread(ops.approver_chats))
        if not approvers:
            return 0
        requests = await asyncio.to_thread(ops.approval_requests)
        asked = []
        for post, rendered in requests:
            delivered = False
            for chat_id in approvers:
                try:
                    await bot.send_message(chat_id=chat_id, text=request_text(post, rendered),
                                           parse_mode=ParseMode.HTML, reply_markup=self.keyboard(post),
                                           link_preview_options=LinkPreviewOptions(is_disabled=True))
                    delivered = True
                except TelegramError as exc:  # one approver's chat failing must not stop the others
                    log.warning("could not ask approver %s about post #%s: %s", chat_id, post.id, exc.message)
            if delivered:
                asked.append(post.id)
        if asked:
            await asyncio.to_thread(ops.mark_asked, asked)
        return len(asked)

    async def start(self, bot: Any) -> None:
        async def loop() -> None:
            while True:
                try:
                    await self.ask(bot)
                except Exception:
                    log.exception("could not send the approval requests")
                await asyncio.sleep(self.interval)

        self._task = asyncio.create_task(loop(), name="approval-requests")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def answered(self, update: Update, context: Context) -> None:
        query = update.callback_query
        user = update.effective_user
        ops = self.services.operations
        if query is None or user is None or ops is None:
            return
        if user.id not in await asyncio.to_thread(ops.approver_chats):
            log.warning("refused an approval answer from user %s: not an approver", user.id)
            await answer(query, "Only the approvers may answer this.")
            return
        action, _, raw = (query.data or "").partition(":")
        if not raw.isdigit():
            await answer(query)
            return
        who = user.username or user.full_name or str(user.id)
        actor = f"telegram:{user.id}"
        if action == APPROVE:
            result = await ops.approve(int(raw), actor=actor)
        else:
            result = await ops.skip(int(raw), actor=actor, reason=f"skipped by {who} in Telegram")
        await answer(query, result.message[:200])
        if result.ok and query.message is not None:
            mark = "✅ approved" if action == APPROVE else "⏭ skipped"
            with contextlib.suppress(TelegramError):  # the request may be too old to edit: the answer stands
                await context.bot.edit_message_reply_markup(chat_id=query.message.chat.id,
                                                            message_id=query.message.message_id, reply_markup=None)
                await context.bot.send_message(chat_id=query.message.chat.id,
                                               text=f"{mark} by {esc(who)}: {esc(result.message)}",
                                               parse_mode=ParseMode.HTML,
                                               reply_to_message_id=query.message.message_id)


def handlers(services: Services, approvals: Approvals) -> list[BaseHandler[Update, Any, Any]]:
    return [CallbackQueryHandler(approvals.answered, pattern=rf"^({APPROVE}|{SKIP}):\d+$")]

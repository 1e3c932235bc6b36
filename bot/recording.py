"""The recording of an event: its links set from the dashboard, the CLI or Telegram (one operation), a summary
waiting for it planned, and a summary that went out without it edited to carry it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain import Event, PostKind, PostState, StoredEvent

if TYPE_CHECKING:
    from bot.operations import ActionResult, Operations

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class RecordingResult:
    ok: bool
    message: str
    event: StoredEvent | None = None
    posts: tuple[ActionResult, ...] = ()  # the summaries (or their edits) sent now


class Recordings:
    """Sets an event's recording links (kept over its file, like the stream links set at go-live). A summary step
    that waits for the recording (`requires: recording` or `any`) is planned and, when due, sent now; a summary
    that went out already is edited to carry it. Setting the same links again changes nothing."""

    def __init__(self, operations: Operations) -> None:
        self.ops = operations

    async def __call__(self, event_id: str, links: dict[str, str], *, actor: str | None) -> RecordingResult:
        from bot.operations import _plain  # one wording of validation errors for every operation

        ops = self.ops
        stored = await asyncio.to_thread(ops.store.record, event_id)
        if stored is None:
            return RecordingResult(ok=False, message=f"no event {event_id!r}")
        if not links:
            return RecordingResult(ok=False, event=stored, message="give at least one recording link (PLATFORM=URL)")
        try:
            event = Event.model_validate({**stored.event.model_dump(),
                                          "recording": {**stored.event.recording, **links}})
        except ValueError as exc:
            return RecordingResult(ok=False, event=stored, message=f"the recording was not set: {_plain(exc)}")
        if event.recording == stored.event.recording:
            return RecordingResult(ok=True, event=stored, message=f"{event_id}: the recording was set already")
        await asyncio.to_thread(ops.store.set_recording, event_id, links)
        now = ops.clock()
        config = ops.config
        prepared = await ops.editing.check(event, stored)  # the summary waiting for it planned, rendered with it
        result = await asyncio.to_thread(
            ops.store.sync_event, event, stored.source, list(prepared.items), origin=stored.origin,
            notify_changes=config.campaign.notify_changes, now=now, skip_past=False,
            planned_with=prepared.planned_with)
        log.info("%s: recording set (%s) by %s", event_id, ", ".join(f"{k}={v}" for k, v in links.items()),
                 actor or "?")
        due = [p for p in await asyncio.to_thread(ops.store.posts, event_id)
               if p.kind is PostKind.SUMMARY and p.state is PostState.PLANNED and p.due_at <= now]
        sent = tuple(await asyncio.gather(*(ops.publish_post(p.id, actor=actor) for p in due)))
        if sent:
            message = f"{event_id}: recording set; " + ", ".join(
                f"{r.target} {'edited' if r.post and r.post.edits else 'summary'} {r.result.value}" for r in sent)
        elif result.planned or result.replanned:
            message = f"{event_id}: recording set; the summary goes out at its time"
        else:
            message = f"{event_id}: recording set"
        return RecordingResult(ok=all(r.ok for r in sent), message=message, posts=sent,
                               event=await asyncio.to_thread(ops.store.record, event_id))

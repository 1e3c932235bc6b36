"""Group commit for the scheduler's writes: the starts and settlements of concurrent senders share transactions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain import PlannedPost, StoredEvent
from bot.storage.claims import Claims
from bot.storage.hotpath import Settle, Settlement, Start

log = logging.getLogger(__name__)



@dataclass
class _Pending:
    starts: list[tuple[Start, asyncio.Future[int | None]]] = field(default_factory=list)
    settles: list[tuple[Settle, asyncio.Future[bool]]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.starts) + len(self.settles)


class Batcher:
    """Starts ("this request may leave now") and settlements of posts, each durable before its caller goes on, but
    many to a transaction: while one commit is on its way to the disk, the next writes gather, and go together.
    A sender still records its attempt before its request and its receipt right after it; it only shares the
    commit (and a settlement shares it with the next post's start on the same target)."""

    def __init__(self, claims: Claims, clock: Callable[[], datetime]) -> None:
        self.claims = claims
        self.clock = clock
        self._pending = _Pending()
        self._running = False

    async def start(self, post: PlannedPost, worker: str, actor: str | None = None,
                    event: StoredEvent | None = None) -> int | None:
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._pending.starts.append(((post, worker, actor, event), future))
        self._kick()
        return await future

    async def settle(self, post: PlannedPost, worker: str, delivery_id: int | None, outcome: Settlement) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.settles.append(((post, worker, delivery_id, outcome), future))
        self._kick()
        return await future

    def _kick(self) -> None:
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._drain(), name="write-batch")

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, _Pending()
                starts = [item for item, _ in batch.starts]
                settles = [item for item, _ in batch.settles]
                try:
                    started, settled = await asyncio.to_thread(self.claims.write_many, starts, settles, self.clock())
                except Exception:
                    log.warning("a batch of %d writes failed; writing them one by one", len(batch), exc_info=True)
                    await self._one_by_one(batch)
                    continue
                for (_, start_future), result in zip(batch.starts, started, strict=True):
                    start_future.set_result(result)
                for (_, settle_future), done in zip(batch.settles, settled, strict=True):
                    settle_future.set_result(done)
        finally:
            self._running = False

    async def _one_by_one(self, batch: _Pending) -> None:
        """After a failed batch: each write on its own, so that one bad write fails only its own caller."""
        for start, start_future in batch.starts:
            try:
                start_future.set_result((await asyncio.to_thread(self.claims.start_many, [start], self.clock()))[0])
            except Exception as exc:
                start_future.set_exception(exc)
        for settle, settle_future in batch.settles:
            try:
                settle_future.set_result(
                    (await asyncio.to_thread(self.claims.settle_many, [settle], self.clock()))[0])
            except Exception as exc:
                settle_future.set_exception(exc)

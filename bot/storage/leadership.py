"""Chooses the one replica that receives Telegram updates: a PostgreSQL advisory lock held on a connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)


class Leadership:
    """Long polling allows one receiver per bot token. Replicas on PostgreSQL take turns: the one holding
    the advisory lock polls; the others try again every `retry` seconds. The lock lives as long as the
    holder's connection, so when the leader dies the database releases it and another replica takes over
    within about `retry` seconds. On SQLite (a single process) there is nothing to share: always leader.
    """

    def __init__(self, engine: Engine, name: str, retry: float = 5.0) -> None:
        self.engine = engine
        self.key = zlib.crc32(f"announce-bot leader {name}".encode())
        self.retry = retry
        self._connection: Connection | None = None

    @property
    def shared(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _try(self) -> bool:
        if not self.shared:
            return True
        connection = self.engine.connect()
        got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar())
        connection.commit()  # end the transaction; the session-level lock stays with the connection
        if got:
            self._connection = connection
        else:
            connection.close()
        return got

    def _still_held(self) -> bool:
        if not self.shared:
            return True
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1")).scalar()
            self._connection.commit()
            return True
        except Exception:  # the database or the connection went away: so did the lock
            self.release()
            return False

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this process leads (True), or until `stop` is set (False)."""
        while not stop.is_set():
            try:
                if await asyncio.to_thread(self._try):
                    return True
            except Exception as exc:  # the database is unreachable for now: keep trying
                log.warning("cannot ask the database for leadership: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.retry)
        return False

    async def held(self) -> bool:
        return await asyncio.to_thread(self._still_held)

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                # Really closed, not handed back to the pool: only that releases the advisory lock.
                connection.invalidate()
                connection.close()
            except Exception:
                log.debug("closing the leader's connection failed", exc_info=True)

"""The scheduler's two writes per post, start and settle, as statements written once per database and run on the
driver's own cursor: SQLAlchemy's per-statement and per-session work was most of a post's CPU (bench/README.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from bot.domain import PlannedPost, PostState, Receipt, StoredEvent

_S = PostState
EVENT_CHANGED = 0  # what a start answers when the event changed since the post was rendered (ids start at 1)
WITHDRAWN = "withdrawn"  # the status column of a withdrawn event


@dataclass(frozen=True, kw_only=True)
class Settlement:
    """How a claimed post ends this attempt: its new state, and what goes with it."""

    state: PostState
    reason: str | None = None
    receipt: Receipt | None = None
    next_attempt_at: datetime | None = None
    error: str | None = None  # for the delivery row: the error's text and kind
    error_kind: str | None = None


Start = tuple[PlannedPost, str, str | None, StoredEvent | None]  # post, worker, actor, the event as rendered from
Settle = tuple[PlannedPost, str, int | None, Settlement]  # post, worker, its delivery row, the outcome

# Each statement with :name parameters; `_for` turns them into the driver's style.
_RENEW = ("UPDATE planned_posts SET claimed_at = :now "
          "WHERE id = :id AND claimed_by = :worker AND state = 'claimed'")
# The same, only while the event is still the version the post was rendered from.
_RENEW_SAME = _RENEW + (" AND EXISTS (SELECT 1 FROM events WHERE events.id = :event "
                        "AND events.content_hash = :version AND events.status = :status)")
_HELD = "SELECT id FROM planned_posts WHERE id = :id AND claimed_by = :worker AND state = 'claimed'"
_ATTEMPT = ("INSERT INTO deliveries (planned_post_id, event_id, kind, target, platform, state, started_at, actor) "
            "VALUES (:id, :event, :kind, :target, :platform, 'claimed', :now, :actor) RETURNING id")
_FINISH_SENT = ("UPDATE deliveries SET state = 'sent', post_id = :post_id, link = :link, finished_at = :now "
                "WHERE id = :delivery")
_FINISH_FAILED = ("UPDATE deliveries SET state = :state, error = :error, error_kind = :kind, finished_at = :now "
                  "WHERE id = :delivery")
_SETTLE = ("UPDATE planned_posts SET state = :state, reason = :reason, next_attempt_at = :next, updated_at = :now "
           "WHERE id = :id AND state = 'claimed' AND claimed_by = :worker")
# A receipt also settles a post a replica's recovery marked unknown while it was being published.
_SETTLE_SENT = ("UPDATE planned_posts SET state = 'sent', reason = NULL, next_attempt_at = NULL, updated_at = :now, "
                "post_id = :post_id, link = :link, parts = {parts} "
                "WHERE id = :id AND ((state = 'claimed' AND claimed_by = :worker) OR state = 'unknown')")


class HotPath:
    """Starts and settlements written on one pooled driver connection, in one transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._sql = {name: self._for(text) for name, text in (
            ("renew", _RENEW), ("renew_same", _RENEW_SAME), ("held", _HELD), ("attempt", _ATTEMPT),
            ("finish_sent", _FINISH_SENT), ("finish_failed", _FINISH_FAILED), ("settle", _SETTLE),
            ("settle_sent", _SETTLE_SENT.format(parts=":parts" if self.sqlite else "CAST(:parts AS json)")))}

    def _for(self, text: str) -> str:
        """SQLite takes :name as it is; psycopg wants %(name)s."""
        if self.sqlite:
            return text
        return re.sub(r"(?<!:):([a-z_]+)", r"%(\1)s", text)

    def _time(self, moment: datetime | None) -> Any:
        """As bot.storage.tables.UTCDateTime stores it: SQLite naive UTC text (SQLAlchemy's format, which its own
        comparisons rely on), PostgreSQL an aware time."""
        if moment is None or not self.sqlite:
            return moment
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def write(self, starts: Sequence[Start], settles: Sequence[Settle], now: datetime
              ) -> tuple[list[int | None], list[bool]]:
        """Settlements first (a receipt shares its commit with the next post's start), then starts; one commit."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            at = self._time(now)
            done = [self._settle(cursor, *item, at) for item in settles]
            started = [self._start(cursor, *item, at) for item in starts]
            raw.commit()
            return started, done
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()  # back to the pool

    def _start(self, cursor: Any, post: PlannedPost, worker: str, actor: str | None, event: StoredEvent | None,
               now: Any) -> int | None:
        """Record the attempt just before its request may leave; None if this worker lost the claim; EVENT_CHANGED
        if the event is no longer the version the post was rendered from."""
        sql = self._sql
        if event is None:
            cursor.execute(sql["renew"], {"id": post.id, "worker": worker, "now": now})
        else:
            status = WITHDRAWN if event.withdrawn is not None else event.event.status.value
            cursor.execute(sql["renew_same"], {"id": post.id, "worker": worker, "now": now, "event": post.event_id,
                                               "version": event.version, "status": status})
        if not cursor.rowcount:
            if event is not None:
                cursor.execute(sql["held"], {"id": post.id, "worker": worker})
                if cursor.fetchone() is not None:
                    return EVENT_CHANGED
            return None
        cursor.execute(sql["attempt"], {"id": post.id, "event": post.event_id, "kind": post.kind.value,
                                        "target": post.target, "platform": post.platform.value, "now": now,
                                        "actor": actor})
        delivery_id: int = cursor.fetchone()[0]
        return delivery_id

    def _settle(self, cursor: Any, post: PlannedPost, worker: str, delivery_id: int | None, outcome: Settlement,
                now: Any) -> bool:
        sql = self._sql
        receipt = outcome.receipt
        if receipt is not None:
            if delivery_id is not None:
                cursor.execute(sql["finish_sent"], {"delivery": delivery_id, "post_id": receipt.post_id,
                                                    "link": receipt.link, "now": now})
            cursor.execute(sql["settle_sent"], {"id": post.id, "worker": worker, "now": now,
                                                "post_id": receipt.post_id, "link": receipt.link,
                                                "parts": json.dumps([receipt.post_id, *receipt.extra_ids])})
            return bool(cursor.rowcount)
        if delivery_id is not None:
            state = outcome.state if outcome.state is not _S.SKIPPED else _S.FAILED
            cursor.execute(sql["finish_failed"], {"delivery": delivery_id, "state": state.value, "now": now,
                                                  "error": outcome.error or outcome.reason,
                                                  "kind": outcome.error_kind})
        cursor.execute(sql["settle"], {"id": post.id, "worker": worker, "state": outcome.state.value,
                                       "reason": outcome.reason, "next": self._time(outcome.next_attempt_at),
                                       "now": now})
        return bool(cursor.rowcount)

"""What a failed attempt means for its post, as a pure function of the post, its event, the error and the policy:
retry at a time (exactly as long as a rate limit asks; back-off with jitter otherwise, within the post's useful
window), unknown (the request may have left and the platform cannot deduplicate), or failed for good."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.clock import utc_text
from bot.config.settings import DeliverySettings
from bot.domain import CatchUp, Event, OnUnknown, PlannedPost, PostState
from bot.errors import OutcomeUnknown, PublishError, RateLimited
from bot.planning import deadline
from bot.storage.hotpath import Settlement


def after_failure(post: PlannedPost, event: Event, error: PublishError, *, idempotent: bool, on_unknown: OnUnknown,
                  policy: DeliverySettings, now: datetime,
                  jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0)) -> Settlement:
    """The post's settlement after `error` on its attempt number `post.attempts`."""
    message = f"{type(error).__name__}: {error}"
    kind = type(error).__name__
    if not error.retryable:
        return Settlement(state=PostState.FAILED, reason=message, error=str(error), error_kind=kind)
    if isinstance(error, OutcomeUnknown) and not idempotent and on_unknown is OnUnknown.REPORT:
        return Settlement(state=PostState.UNKNOWN, error=str(error), error_kind=kind, reason=(
            f"{message}. Check the {post.platform.value} account; `announce-bot retry {post.id}` sends it again"))
    attempts = post.attempts
    if isinstance(error, RateLimited):
        delay = error.retry_after  # exactly as long as the platform said
    elif attempts >= policy.max_attempts:
        reason = f"gave up after {attempts} attempts: {message}"
        return Settlement(state=PostState.FAILED, reason=reason, error=str(error), error_kind=kind)
    else:
        backoff = min(policy.backoff_max, policy.backoff_base * 2 ** max(attempts - 1, 0))
        delay = backoff * jitter()  # jitter spreads retries of many posts apart
    when = now + timedelta(seconds=delay)
    limit = deadline(CatchUp(post.catch_up), event.start, event.end) if not post.manual else None
    if limit is not None and when >= limit:
        reason = f"no time left to retry before {utc_text(limit)}: {message}"
        return Settlement(state=PostState.FAILED, reason=reason, error=str(error), error_kind=kind)
    return Settlement(state=PostState.RETRYING, next_attempt_at=when, reason=message, error=str(error),
                      error_kind=kind)

"""The retry policy as a pure function: what each kind of failure means for a post, at which attempt, when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config.settings import DeliverySettings
from bot.domain import CatchUp, Event, OnUnknown, PlannedPost, Platform, PostKind, PostState
from bot.errors import OutcomeUnknown, PermanentError, PublishError, RateLimited, TransientError
from bot.retrying import after_failure
from bot.storage.hotpath import Settlement

NOW = datetime(2024, 11, 20, 8, 0, tzinfo=UTC)
POLICY = DeliverySettings(max_attempts=5, backoff_base=10, backoff_max=600)


def post(attempts: int = 1, catch_up: CatchUp = CatchUp.BEFORE_END, manual: bool = False) -> PlannedPost:
    return PlannedPost(id=7, event_id="e", step_id="announcement", kind=PostKind.ANNOUNCEMENT, target="vk",
                       platform=Platform.VK, lang="ru", catch_up=catch_up, due_at=NOW, state=PostState.CLAIMED,
                       attempts=attempts, manual=manual)


def settle(error: PublishError, event: Event, **options: Any) -> Settlement:
    given = {"idempotent": False, "on_unknown": OnUnknown.REPORT, "policy": POLICY, "now": NOW, "jitter": lambda: 1.0}
    return after_failure(options.pop("post", post()), event, error, **{**given, **options})


def test_each_failure_means_what_it_says(reference_event: Event) -> None:
    event = reference_event  # 27 November 2024: a week after NOW
    assert settle(PermanentError("refused"), event).state is PostState.FAILED
    unknown = settle(OutcomeUnknown("dropped after sending"), event)
    assert unknown.state is PostState.UNKNOWN and "announce-bot retry 7" in unknown.reason
    assert settle(OutcomeUnknown("x"), event, idempotent=True).state is PostState.RETRYING
    resent = settle(OutcomeUnknown("x"), event, on_unknown=OnUnknown.RESEND)
    assert resent.state is PostState.RETRYING
    limited = settle(RateLimited("slow down", retry_after=42), event)
    assert limited.next_attempt_at == NOW + timedelta(seconds=42)


def test_back_off_doubles_and_gives_up_after_the_bounded_attempts(reference_event: Event) -> None:
    delays = [(settle(TransientError("reset"), reference_event, post=post(n)).next_attempt_at or NOW) - NOW
              for n in (1, 2, 3, 4)]
    assert delays == [timedelta(seconds=s) for s in (10, 20, 40, 80)]
    assert settle(TransientError("reset"), reference_event, post=post(5)).state is PostState.FAILED


def test_no_retry_is_planned_past_the_posts_useful_window(reference_event: Event) -> None:
    late = settle(RateLimited("wait", retry_after=8 * 86400), reference_event)  # past the event's end
    assert late.state is PostState.FAILED
    assert "no time left to retry before 2024-11-27 10:00 UTC" in late.reason
    by_hand = settle(RateLimited("wait", retry_after=8 * 86400), reference_event, post=post(manual=True))
    assert by_hand.state is PostState.RETRYING

"""The reminder queue on every supported database: claims in a batch, a group marked `sending` with the receipts of
the group before in one transaction, claims that are not ours left alone, recovery after a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import Event, ReminderState
from bot.storage import Store
from bot.storage.chat import ChatStore
from bot.storage.reminders import ReminderQueue, Settled
from bot.storage.tables import ReminderRow

NOW = datetime(2024, 11, 27, 7, 0, tzinfo=UTC)


def states(store: Store) -> dict[int, tuple[str, int, str | None, int | None]]:
    with store.sessions() as session:
        return {row.user_id: (row.state, row.attempts, row.claimed_by, row.message_id)
                for row in session.query(ReminderRow)}


def test_a_group_is_marked_and_the_one_before_settled_in_one_transaction(store: Store,
                                                                          reference_event: Event) -> None:
    store.sync_event(reference_event, "events/x.yaml", [], now=NOW - timedelta(days=30))
    chats = ChatStore(store.sessions)
    for user in range(1, 7):
        chats.subscribe(user, user, "en", None)
    queue = ReminderQueue(store.sessions)
    assert queue.enqueue(reference_event.id, "reminder-1h", "reminder", NOW, NOW) == 6
    first, second, third, fourth, fifth, sixth = queue.claim(NOW, "me", 10)
    assert queue.claim(NOW, "other", 10) == []  # claimed once

    assert queue.mark("me", [first.id, second.id], skipped=[(third.id, "too late")],
                      later=[(fourth.id, NOW + timedelta(seconds=1))]) == {first.id, second.id}
    assert queue.mark("other", [fifth.id]) == set()  # not theirs
    marked = queue.mark("me", [fifth.id], settled=[
        Settled(row_id=first.id, state=ReminderState.SENT, message_id=501),
        Settled(row_id=second.id, state=ReminderState.QUEUED, error="no connection",
                next_attempt_at=NOW + timedelta(seconds=5)),
    ])
    assert marked == {fifth.id}
    queue.settle("me", [Settled(row_id=fifth.id, state=ReminderState.QUEUED, unsent=True)])  # never left
    assert states(store) == {
        first.user_id: ("sent", 1, "me", 501),
        second.user_id: ("queued", 1, None, None),  # its attempt counts
        third.user_id: ("skipped", 0, "me", None),
        fourth.user_id: ("queued", 0, None, None),
        fifth.user_id: ("queued", 0, None, None),  # given back unsent: no attempt counted
        sixth.user_id: ("claimed", 0, "me", None),
    }
    assert queue.next_due() == NOW + timedelta(seconds=1)
    assert [row.user_id for row in queue.claim(NOW + timedelta(seconds=5), "me", 10)] == [
        second.user_id, fourth.user_id, fifth.user_id]

    assert queue.mark("me", [second.id]) == {second.id}
    assert queue.recover() == (3, 1)  # after a crash: the claimed back to the queue, the one `sending` unknown
    assert states(store)[second.user_id][0] == "unknown"
    assert queue.open_count() == 3

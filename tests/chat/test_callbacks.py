"""bot/chat/callbacks.py: each payload packs to the string the buttons carry, unpacks from it, and gives the pattern
that routes a press; anything else is not one of its kind (the press is told the button no longer works)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.chat.callbacks import (
    Approve,
    CallbackData,
    EventCard,
    Language,
    Page,
    Remind,
    RemindAll,
    Skip,
    StopReminding,
)
from bot.chat.core import Routes


def test_payloads_pack_and_unpack() -> None:
    assert EventCard("china-session").pack() == "ev:china-session"
    assert Page(2).pack() == "pg:2" and Page.unpack("pg:2") == Page(2)
    assert RemindAll().pack() == "suball" and RemindAll.unpack("suball") == RemindAll()
    assert Approve.unpack("apv:42") == Approve(42) and Skip.unpack("apv:42") is None
    assert Language.unpack("lang:ru") == Language("ru")
    assert Remind.unpack("sub:") == Remind("")  # routed, then found stale by its handler


@pytest.mark.parametrize("data", ["pg:abc", "pg:", "pg:1:2", "ev", "suball:x", "sub", "", None, "x" * 64])
def test_anything_else_is_not_a_payload_of_that_kind(data: str | None) -> None:
    assert all(kind.unpack(data) is None for kind in (Page, EventCard, RemindAll, Approve))
    if data is not None and data.startswith("sub"):
        assert StopReminding.unpack(data) is None


def test_a_press_is_routed_by_the_kind_of_its_payload() -> None:
    async def handler(*_: object) -> None:
        pass

    routes = Routes(buttons={Remind: handler, RemindAll: handler})
    assert routes.button("sub:russia-dprk-treaty") is handler and routes.button("suball") is handler
    assert routes.button("uns:russia-dprk-treaty") is None and routes.button(None) is None


def test_what_would_not_come_back_whole_is_refused_when_packed() -> None:
    with pytest.raises(ValueError, match="holds ':'"):
        EventCard("a:b").pack()
    with pytest.raises(ValueError, match="longer than 64 bytes"):
        EventCard("x" * 64).pack()  # Telegram's limit; the chat core keys a long event id shorter


def test_fields_are_str_or_int() -> None:
    @dataclasses.dataclass(frozen=True)
    class Odd(CallbackData, prefix="odd"):
        when: float

    with pytest.raises(TypeError, match="fields must be str or int"):
        Odd(1.0).pack()

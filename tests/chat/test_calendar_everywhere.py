"""The .ics a person gets from the chat bot and the one from the web feed are the same calendar entry."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
import icalendar
import pytest

from bot.config import AppConfig, load_config
from bot.runtime import Runtime
from bot.storage import Store
from bot.web import create_app
from tests.chat.conftest import ANNA, Say, buttons, write_event
from tests.fakes.telegram import FakeTelegram

REF = "russia-dprk-treaty"


@pytest.fixture
def config(chat_env: dict[str, str], workdir: Path, monkeypatch: pytest.MonkeyPatch) -> AppConfig:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PUBLIC_URL", "https://events.valdaiclub.com")
    events = workdir / "config" / "events"
    write_event(events, "delayed-forum", "Delayed Forum", datetime(2024, 12, 5, 10, 0), status="postponed")
    write_event(events, "called-off", "Called Off", datetime(2024, 12, 6, 10, 0), status="cancelled")
    return load_config(workdir / "config")


@pytest.mark.parametrize(("event_id", "status"), [
    (REF, "CONFIRMED"), ("delayed-forum", "TENTATIVE"), ("called-off", "CANCELLED"),
])
async def test_chat_and_web_give_one_uid_and_status(say: Say, press: Say, fake: FakeTelegram, runtime: Runtime,
                                                    chat_store: Store, event_id: str, status: str) -> None:
    (card,) = await say(ANNA, f"/event {event_id}")
    (sent,) = await press(ANNA, card, buttons(card)["📅 Add to calendar"])
    [from_chat] = icalendar.Calendar.from_ical(sent["document"]).walk("VEVENT")

    app = create_app(runtime.live, runtime.operations)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://elsewhere.example") as http:
        answer = await http.get(f"/events/{event_id}.ics")
        feed = await http.get("/feeds/events.ics")
    [from_web] = icalendar.Calendar.from_ical(answer.content).walk("VEVENT")
    [in_feed] = [e for e in icalendar.Calendar.from_ical(feed.content).walk("VEVENT") if event_id in str(e["uid"])]

    assert str(from_chat["uid"]) == str(from_web["uid"]) == str(in_feed["uid"]) == f"{event_id}@events.valdaiclub.com"
    assert str(from_chat["status"]) == str(from_web["status"]) == str(in_feed["status"]) == status
    assert from_chat.decoded("dtstart") == from_web.decoded("dtstart")

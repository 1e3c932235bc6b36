"""The event editor over HTTP on the real app and a real SQLite store: new, duplicate, edit, take over, postpone,
cancel, withdraw, export, the previews of an unsaved form, and each error next to its field."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
import yaml

from bot.accounts import Role
from bot.config.export import event_data
from bot.domain import Event, EventOrigin, EventStatus, Platform, PostKind, PostState, Receipt
from bot.web.eventform import anchor, check, form_of
from tests.web.editor_pages import form_fields, problems
from tests.web.support import EVENT_ID, Site, add_user, attempt, client_for, csrf_of, login

NEW_ID = "spring-forum"


async def _duplicate(admin: httpx.AsyncClient) -> dict[str, str]:
    page = await admin.get(f"/admin/editor/new?from={EVENT_ID}")
    assert page.status_code == 200, page.text
    return form_fields(page.text)


async def _take_over(admin: httpx.AsyncClient) -> dict[str, str]:
    page = await admin.get(f"/admin/events/{EVENT_ID}/edit")
    taken = await admin.post(f"/admin/events/{EVENT_ID}/take-over", data={"csrf_token": csrf_of(page.text)})
    assert taken.status_code == 303 and taken.headers["location"] == f"/admin/events/{EVENT_ID}/edit"
    return form_fields((await admin.get(f"/admin/events/{EVENT_ID}/edit")).text)


async def test_a_new_event_starts_as_a_draft_with_a_field_for_everything_in_the_model(
    admin: httpx.AsyncClient,
) -> None:
    page = await admin.get("/admin/editor/new")
    assert page.status_code == 200
    fields = form_fields(page.text)
    assert fields["status"] == "draft" and fields["new"] == "1"
    assert fields["timezone"] == "Europe/Moscow"  # the latest event's zone
    # Every field of the Event model has its place in the form (a text has one input per language).
    for name in Event.model_fields:
        assert f'id="{anchor(name)}"' in page.text, name
    for text in ("title", "topic", "venue.name", "venue.address", "report"):
        assert f"{text}.en" in fields and f"{text}.ru" in fields, text
        assert page.text.count(f'name="{text}.en"') == 1, text  # one column per language, once
    assert 'name="cover.file"' in page.text and 'accept="image/jpeg,image/png"' in page.text
    assert "(JPEG or PNG, at most 5 MB)" in page.text
    assert '<script src="/static/editor.js" defer></script>' in page.text


async def test_a_duplicate_clears_what_must_be_new_and_marks_what_repeats_the_source(
    admin: httpx.AsyncClient, site: Site,
) -> None:
    fields = await _duplicate(admin)
    source = site.store.event(EVENT_ID)
    assert source is not None
    assert fields["langs"] == "en ru"
    for cleared in ("id", "start", "end", "url", "cover.url", "report.en", "report_title.en"):
        assert fields.get(cleared, "") == "", cleared
    assert not [name for name in fields if name.startswith("live[")]
    assert fields["status"] == "draft" and fields["source"] == EVENT_ID
    assert fields["title.en"] == "Valdai Club to Discuss Russia-North Korea Treaty"
    assert fields["speakers[5].name.ru"] == "Константин Асмолов"
    page = (await admin.get(f"/admin/editor/new?from={EVENT_ID}")).text
    for repeated in ("title", "topic", "description", "speakers", "venue", "hashtags"):
        assert f'data-repeats="{repeated}">still as in {EVENT_ID}: review' in page, repeated


async def test_a_duplicate_saved_with_a_new_title_and_date_is_a_planned_draft_of_the_dashboard(
    admin: httpx.AsyncClient, site: Site,
) -> None:
    fields = await _duplicate(admin)
    fields.update({"id": NEW_ID, "title.en": "Spring Forum", "title.ru": "Весенний форум",
                   "start": "2025-03-10T11:00", "end": "2025-03-10T13:00"})
    saved = await admin.post("/admin/editor/new", data=fields)
    assert saved.status_code == 303 and saved.headers["location"] == f"/admin/events/{NEW_ID}", saved.text
    stored = site.store.record(NEW_ID)
    assert stored is not None and stored.origin is EventOrigin.DASHBOARD
    event = stored.event
    assert event.title == {"en": "Spring Forum", "ru": "Весенний форум"}
    assert event.status is EventStatus.DRAFT and event.live == {} and event.report is None
    assert event.start == datetime(2025, 3, 10, 11, 0, tzinfo=event.zone)
    source = site.store.event(EVENT_ID)
    assert source is not None and event.speakers == source.speakers and event.description == source.description
    posts = site.store.posts(NEW_ID)
    assert len(posts) == 21 and {p.state for p in posts} == {PostState.WAITING}  # a draft sends nothing
    announcement = next(p for p in posts if p.step_id == "announcement" and p.target == "telegram")
    assert announcement.due_at == event.start - timedelta(days=7)
    page = await admin.get(f"/admin/events/{NEW_ID}")
    assert page.status_code == 200 and "Spring Forum" in page.text  # a draft has its dashboard page
    assert "created: 21 post(s) planned" in page.text  # the flash
    assert (await admin.get(f"/events/{NEW_ID}")).status_code == 404  # and no public one
    index = (await admin.get("/admin")).text
    assert f'<tr data-event="{NEW_ID}" data-phase="draft">' in index


async def test_every_error_is_next_to_its_field_and_nothing_is_saved(admin: httpx.AsyncClient, site: Site) -> None:
    fields = await _duplicate(admin)
    fields.update({"id": "Bad Id", "title.en": "", "title.ru": "", "start": "2025-03-10T13:00",
                   "end": "2025-03-10T11:00", "speakers[1].link": "ftp://example.org", "hashtags": "#ok #not-ok",
                   "accreditation.phone": "call us", "timezone": "Mars/Olympus"})
    answer = await admin.post("/admin/editor/new", data=fields)
    assert answer.status_code == 422
    page = answer.text
    assert problems(page, "id") == [
        "use 1-80 lower-case letters, digits and hyphens, starting with a letter or digit (e.g. spring-forum-2025)"]
    assert problems(page, "title") == ["Field required"]
    assert problems(page, "speakers[1].link") == ["not an http(s) URL: 'ftp://example.org'"]
    assert problems(page, "hashtags") == ["[1]: a hashtag is letters, digits and _ only, without spaces or punctuation"]
    assert problems(page, "accreditation.phone") == [
        "a phone number is 5-20 digits, spaces, brackets or hyphens, with + first if any"]
    assert problems(page, "timezone") == ["unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Moscow)"]
    # The summary at the top links each problem to its field; the organiser's input is all still there.
    assert f'<a href="#{anchor("speakers[1].link")}">Speakers[1].link</a>' in page
    assert form_fields(page)["speakers[1].link"] == "ftp://example.org"
    assert form_fields(page)["description.en"] == fields["description.en"]
    assert site.store.record("Bad Id") is None and len(site.store.records()) == 1
    # With the fields right, the one remaining problem is the model's own, about two fields: next to the end.
    fields.update({"id": NEW_ID, "title.en": "Spring Forum", "speakers[1].link": "", "hashtags": "#ok",
                   "accreditation.phone": "", "timezone": "Europe/Moscow"})
    page = (await admin.post("/admin/editor/new", data=fields)).text
    assert problems(page, "end") == ["end (2025-03-10T11:00:00+03:00) must be after start (2025-03-10T13:00:00+03:00)"]


async def test_dates_that_are_not_dates_are_named(admin: httpx.AsyncClient) -> None:
    fields = await _duplicate(admin)
    fields.update({"id": NEW_ID, "start": "next tuesday", "end": "2025-03-10T13:00"})
    page = (await admin.post("/admin/editor/new", data=fields)).text
    assert problems(page, "start") == ["not a date and time: 'next tuesday' (write 2025-03-10 11:00)"]


async def test_an_id_in_use_is_refused_next_to_the_id(admin: httpx.AsyncClient, site: Site) -> None:
    fields = await _duplicate(admin)
    fields.update({"id": EVENT_ID, "start": "2025-03-10T11:00", "end": "2025-03-10T13:00"})
    answer = await admin.post("/admin/editor/new", data=fields)
    assert answer.status_code == 409
    assert problems(answer.text, "id") == [f"an event {EVENT_ID!r} exists already"]
    assert site.store.record(EVENT_ID).origin is EventOrigin.FILE  # type: ignore[union-attr]


async def test_rows_are_added_removed_and_reordered_without_a_script_and_without_saving(
    admin: httpx.AsyncClient, site: Site,
) -> None:
    fields = await _duplicate(admin)
    moved = form_fields((await admin.post("/admin/editor/new", data={**fields, "op": "up-speaker-1"})).text)
    assert [moved[f"speakers[{i}].name.en"] for i in range(2)] == ["Georgy Toloraya", "Dmitry Kiku"]
    assert moved["speakers[0].position.ru"].startswith("руководитель Центра")  # the whole row moved
    removed = form_fields((await admin.post("/admin/editor/new", data={**moved, "op": "remove-speaker-0"})).text)
    assert removed["speakers[0].name.en"] == "Dmitry Kiku" and "speakers[5].name.en" not in removed
    added = form_fields((await admin.post("/admin/editor/new", data={**removed, "op": "add-speaker"})).text)
    assert added["speakers[5].name.en"] == ""
    no_moderator = form_fields((await admin.post("/admin/editor/new",
                                                 data={**added, "op": "remove-moderator"})).text)
    assert not [name for name in no_moderator if name.startswith("moderator.")]
    with_link = form_fields((await admin.post("/admin/editor/new", data={**no_moderator, "op": "add-live"})).text)
    assert with_link["live[0].channel"] == "" and with_link["live[0].url"] == ""
    assert len(site.store.records()) == 1  # none of it saved anything
    # The blank speaker row is left out, the rest saved in the new order.
    with_link.update({"id": NEW_ID, "start": "2025-03-10T11:00", "end": "2025-03-10T13:00"})
    assert (await admin.post("/admin/editor/new", data=with_link)).status_code == 303
    saved = site.store.record(NEW_ID)
    assert saved is not None and saved.event.moderator is None
    assert [s.name["en"] for s in saved.event.speakers] == [  # type: ignore[index]
        "Dmitry Kiku", "Ilya Dyachkov", "Anton Khlopkov", "Xu Bo", "Konstantin Asmolov"]


async def test_the_preview_draws_the_unsaved_form_with_its_problems_and_repeats(
    admin: httpx.AsyncClient, site: Site,
) -> None:
    fields = await _duplicate(admin)
    fields.update({"title.en": "Spring Forum", "start": "2025-03-10T11:00", "end": "2025-03-10T13:00"})
    answer = await admin.post("/admin/editor/preview", data=fields)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    # The id is still missing: said next to it, while the previews are drawn with a stand-in id.
    assert body["ok"] is False and body["errors"] == {anchor("id"): ["Field required"]}
    assert "<b>Spring Forum</b>" in body["previews"] and 'data-step="announcement"' in body["previews"]
    assert "March 10, 11:00 Moscow Time" in body["previews"]  # the new date, in the posts themselves
    # The link card: what a shared link, the calendar and the feeds will say, per language, as it is typed.
    assert ('<p class="synopsis">The Valdai Club will host an expert discussion dedicated to the Russia-DPRK Treaty '
            "and the security situation in Northeast Asia in Moscow on March 10, 2025, at 11:00 Moscow Time "
            "(GMT+3).</p>") in body["previews"]
    assert "27 ноября" not in body["previews"] and "10 марта 2025 г. в 11:00 по московскому времени" in body["previews"]
    assert "title" not in body["repeats"] and "description" in body["repeats"]
    assert len(site.store.records()) == 1  # a preview saves nothing
    fields.update({"end": "2025-03-10T10:00"})
    broken = (await admin.post("/admin/editor/preview", data={**fields, "id": NEW_ID})).json()
    assert broken["ok"] is False and list(broken["errors"]) == [anchor("end")]
    assert "The previews appear as soon as the form describes a whole event" in broken["previews"]


async def test_a_file_event_is_read_only_until_taken_over(admin: httpx.AsyncClient, site: Site) -> None:
    page = await admin.get(f"/admin/events/{EVENT_ID}/edit")
    assert page.status_code == 200
    assert "comes from its file" in page.text and "Take over" in page.text
    assert "id: russia-dprk-treaty" in page.text  # the file itself
    assert 'id="event-form"' not in page.text
    stored = site.store.record(EVENT_ID)
    assert stored is not None
    fields = {**form_fields((await admin.get(f"/admin/editor/new?from={EVENT_ID}")).text)}
    fields = dict(fields, id=EVENT_ID, start="2024-11-27T11:00", end="2024-11-27T13:00", version=stored.version)
    fields.pop("new")
    refused = await admin.post(f"/admin/events/{EVENT_ID}/edit", data=fields)
    assert refused.status_code == 409 and "comes from its file" in refused.text
    edit = await _take_over(admin)
    assert site.store.record(EVENT_ID).origin is EventOrigin.DASHBOARD  # type: ignore[union-attr]
    edit["title.en"] = "Valdai Club Discusses the Treaty"
    saved = await admin.post(f"/admin/events/{EVENT_ID}/edit", data=edit)
    assert saved.status_code == 303
    assert site.store.event(EVENT_ID).title["en"] == "Valdai Club Discusses the Treaty"  # type: ignore[index,union-attr]


async def test_an_edit_made_meanwhile_is_not_overwritten(admin: httpx.AsyncClient, site: Site) -> None:
    mine = await _take_over(admin)
    theirs = dict(mine, **{"title.en": "Their title"})
    assert (await admin.post(f"/admin/events/{EVENT_ID}/edit", data=theirs)).status_code == 303
    mine["title.en"] = "My title"
    answer = await admin.post(f"/admin/events/{EVENT_ID}/edit", data=mine)
    assert answer.status_code == 409 and "changed meanwhile" in answer.text
    assert form_fields(answer.text)["title.en"] == "My title"  # kept in the form, to copy from
    assert site.store.event(EVENT_ID).title["en"] == "Their title"  # type: ignore[index,union-attr]


async def test_the_id_of_an_existing_event_does_not_change(admin: httpx.AsyncClient, site: Site) -> None:
    edit = await _take_over(admin)
    answer = await admin.post(f"/admin/events/{EVENT_ID}/edit", data={**edit, "id": "another-id"})
    assert answer.status_code == 422 and "stays russia-dprk-treaty" in problems(answer.text, "id")[0]
    assert site.store.record("another-id") is None


async def test_postpone_cancel_and_withdraw_from_the_event_page(admin: httpx.AsyncClient, site: Site) -> None:
    await _take_over(admin)
    page = await admin.get(f"/admin/events/{EVENT_ID}")
    csrf = csrf_of(page.text)
    moved = await admin.post(f"/admin/events/{EVENT_ID}/postpone",
                             data={"csrf_token": csrf, "when": "date", "start": "2024-12-04T11:00"})
    assert moved.status_code == 303
    event = site.store.event(EVENT_ID)
    assert event is not None and event.start == datetime(2024, 12, 4, 11, 0, tzinfo=event.zone)
    assert event.end - event.start == timedelta(hours=2)  # as long as before
    assert (await admin.post(f"/admin/events/{EVENT_ID}/postpone", data={"csrf_token": csrf, "when": "open"})
            ).status_code == 303
    assert site.store.event(EVENT_ID).status is EventStatus.POSTPONED  # type: ignore[union-attr]
    unconfirmed = await admin.post(f"/admin/events/{EVENT_ID}/cancel", data={"csrf_token": csrf})
    assert unconfirmed.status_code == 303
    assert "tick the box to confirm" in (await admin.get(f"/admin/events/{EVENT_ID}")).text
    assert site.store.event(EVENT_ID).status is EventStatus.POSTPONED  # type: ignore[union-attr]
    await admin.post(f"/admin/events/{EVENT_ID}/cancel", data={"csrf_token": csrf, "confirm": "yes"})
    assert site.store.event(EVENT_ID).status is EventStatus.CANCELLED  # type: ignore[union-attr]
    await admin.post(f"/admin/events/{EVENT_ID}/withdraw", data={"csrf_token": csrf, "confirm": "yes"})
    assert site.store.event(EVENT_ID) is None
    assert {p.state for p in site.store.posts(EVENT_ID)} <= {PostState.CANCELLED, PostState.SKIPPED}
    index = (await admin.get("/admin")).text
    assert "Withdrawn events (1)" in index and 'data-event="russia-dprk-treaty"' not in index


async def test_a_files_event_cannot_be_postponed_before_it_is_taken_over(admin: httpx.AsyncClient,
                                                                           site: Site) -> None:
    page = await admin.get(f"/admin/events/{EVENT_ID}")
    assert "Postpone, cancel or withdraw" not in page.text
    await admin.post(f"/admin/events/{EVENT_ID}/postpone",
                     data={"csrf_token": csrf_of(page.text), "when": "date", "start": "2024-12-04T11:00"})
    assert "comes from its file" in (await admin.get(f"/admin/events/{EVENT_ID}")).text
    assert site.store.event(EVENT_ID).start.day == 27  # type: ignore[union-attr]


async def test_export_downloads_a_file_that_reads_back_to_the_event(admin: httpx.AsyncClient, site: Site) -> None:
    answer = await admin.get(f"/admin/events/{EVENT_ID}/export.yaml")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == f'attachment; filename="{EVENT_ID}.yaml"'
    assert answer.headers["content-type"].startswith("application/yaml")
    assert answer.text.startswith(f"# {EVENT_ID}, exported from the dashboard")
    assert Event.model_validate(yaml.safe_load(answer.text)) == site.store.event(EVENT_ID)


async def test_a_viewer_sees_and_exports_but_does_not_edit(site: Site) -> None:
    add_user(site, "vera", Role.VIEWER, "vera's password")
    async with client_for(site) as http:
        assert (await login(http, "vera's password", "vera")).status_code == 303
        assert (await http.get(f"/admin/events/{EVENT_ID}/export.yaml")).status_code == 200
        page = await http.get(f"/admin/events/{EVENT_ID}")
        refused = await http.post(f"/admin/events/{EVENT_ID}/take-over", data={"csrf_token": csrf_of(page.text)})
        assert refused.status_code == 403 and "needs editor" in refused.text
        assert (await http.get("/admin/editor/new")).status_code == 403
    assert site.store.record(EVENT_ID).origin is EventOrigin.FILE  # type: ignore[union-attr]


async def test_the_actor_is_the_signed_in_editor(site: Site) -> None:
    add_user(site, "olga", Role.EDITOR, "olga's password")
    async with client_for(site) as http:
        await login(http, "olga's password", "olga")
        page = await http.get(f"/admin/events/{EVENT_ID}/edit")
        await http.post(f"/admin/events/{EVENT_ID}/take-over", data={"csrf_token": csrf_of(page.text)})
    assert site.store.record(EVENT_ID).source == "dashboard:olga"  # type: ignore[union-attr]


async def test_the_preview_needs_the_forms_token(admin: httpx.AsyncClient) -> None:
    fields = await _duplicate(admin)
    answer = await admin.post("/admin/editor/preview", data={**fields, "csrf_token": "forged"})
    assert answer.status_code == 403


@pytest.mark.parametrize("when", ["during", "after"])
async def test_a_past_event_shows_as_past_and_nothing_overdue_that_will_not_go(
    client: httpx.AsyncClient, site: Site, when: str,
) -> None:
    event = site.store.event(EVENT_ID)
    assert event is not None
    site.clock.now = event.start + timedelta(minutes=30) if when == "during" else event.end + timedelta(days=2)
    admin = client
    await login(admin)  # at the new time: a session of two days before would have expired
    index = (await admin.get("/admin")).text
    row = index[index.index(f'data-event="{EVENT_ID}"'):index.index("</tr>", index.index(f'data-event="{EVENT_ID}"'))]
    assert ('data-phase="live"' if when == "during" else 'data-phase="past"') in row
    assert "scheduled" not in row
    page = (await admin.get(f"/admin/events/{EVENT_ID}")).text
    reminder = site.post_id("reminder-1d", "telegram")
    cell = page[page.index(f'id="post-{reminder}"'):]
    cell = cell[:cell.index("</tr>")]
    assert "too late, it will be skipped: the event had already started" in cell and "overdue" not in cell
    live = site.post_id("live", "telegram")
    cell = page[page.index(f'id="post-{live}"'):]
    cell = cell[:cell.index("</tr>")]
    assert ("overdue" in cell) is (when == "during")  # a live post is still worth sending while it runs


async def test_the_event_page_offers_the_editors_actions(admin: httpx.AsyncClient) -> None:
    page = (await admin.get(f"/admin/events/{EVENT_ID}")).text
    assert f'href="/admin/editor/new?from={EVENT_ID}">Duplicate</a>' in page
    assert f'href="/admin/events/{EVENT_ID}/export.yaml" download>Export as YAML</a>' in page
    assert "Show its file / take over" in page
    index = (await admin.get("/admin")).text
    assert 'href="/admin/editor/new">+ New event</a>' in index


def test_the_form_reads_back_every_field_of_the_reference_event(site: Site) -> None:
    event = site.store.event(EVENT_ID)
    assert event is not None
    checked = check(form_of(event_data(event), ["en", "ru"]))
    assert checked.errors == {} and checked.event == event


async def test_a_change_notice_is_planned_when_a_published_event_moves(admin: httpx.AsyncClient, site: Site) -> None:
    attempt(site, "announcement", "telegram", receipt=Receipt(platform=Platform.TELEGRAM, target="telegram",
                                                              post_id="7", link="https://t.me/valdaiclub/7"))
    edit = await _take_over(admin)
    edit.update({"start": "2024-11-28T11:00", "end": "2024-11-28T13:00"})
    assert (await admin.post(f"/admin/events/{EVENT_ID}/edit", data=edit)).status_code == 303
    notices = [p for p in site.store.posts(EVENT_ID) if p.kind is PostKind.CHANGED]
    assert [(p.target, p.state) for p in notices] == [("telegram", PostState.PLANNED)]


# --- the plan checked before saving (issue 19) -------------------------------------------------------------


async def test_the_preview_says_what_goes_out_now_before_saving(admin: httpx.AsyncClient, site: Site) -> None:
    fields = await _duplicate(admin)
    start = site.clock() + timedelta(days=3)  # the announcement's time, 7 days before, has passed
    fields.update({"id": NEW_ID, "title.en": "Spring Forum", "title.ru": "Весенний форум", "status": "scheduled",
                   "start": f"{start:%Y-%m-%dT%H:%M}", "end": f"{start + timedelta(hours=2):%Y-%m-%dT%H:%M}"})
    body = (await admin.post("/admin/editor/preview", data=fields)).json()
    assert body["ok"] is True, body["problems"]
    assert any(note.startswith("announcement goes out now: its time, 7 days before the start, has passed")
               for note in body["notes"]), body["notes"]
    assert len(site.store.records()) == 1  # nothing saved
    saved = await admin.post("/admin/editor/new", data=fields)
    assert saved.status_code == 303
    assert "announcement goes out now" in (await admin.get(saved.headers["location"])).text


async def test_a_text_past_its_bound_is_refused_at_its_field_with_the_limit(
    admin: httpx.AsyncClient, site: Site
) -> None:
    fields = await _duplicate(admin)
    fields.update({"id": NEW_ID, "start": "2025-03-10T11:00", "end": "2025-03-10T13:00",
                   "description.en": "A fifty-kilobyte description. " * 1_700})
    answer = await admin.post("/admin/editor/new", data=fields)
    assert answer.status_code == 422
    assert problems(answer.text, "description") == ["at most 20,000 characters; this one has 50,999: shorten it"]
    assert site.store.record(NEW_ID) is None
    preview = (await admin.post("/admin/editor/preview", data={**fields, "description.en": "Short.",
                                                               "title.en": "T" * 20_000})).json()
    assert preview["errors"] == {anchor("title"): ["at most 300 characters; this one has 20,000: shorten it"]}
    assert "The previews appear as soon as the form describes a whole event" in preview["previews"]


async def test_a_post_that_cannot_go_out_is_refused_at_save_and_named(admin: httpx.AsyncClient, site: Site) -> None:
    fields = await _duplicate(admin)
    fields.update({"id": NEW_ID, "start": "2025-03-10T11:00", "end": "2025-03-10T13:00", "status": "scheduled",
                   "report.en": "A report whose first paragraph runs on. " * 100})  # 4,000: over X's 12 tweets
    preview = (await admin.post("/admin/editor/preview", data=fields)).json()
    assert preview["ok"] is False
    assert "summary on x: X: the post needs" in preview["errors"][anchor("report")][0]
    answer = await admin.post("/admin/editor/new", data=fields)
    assert answer.status_code == 422
    (message,) = problems(answer.text, "report")
    assert "summary on x: X: the post needs" in message and "more than the 12 this platform allows" in message
    assert site.store.record(NEW_ID) is None


async def test_a_start_that_has_passed_is_refused_unless_recorded_as_past(admin: httpx.AsyncClient, site: Site
                                                                          ) -> None:
    fields = await _duplicate(admin)
    fields.update({"id": NEW_ID, "start": "2024-10-01T11:00", "end": "2024-10-01T13:00", "status": "scheduled"})
    answer = await admin.post("/admin/editor/new", data=fields)
    assert answer.status_code == 422
    (message,) = problems(answer.text, "start")
    assert message.startswith("2024-10-01 11:00 (Europe/Moscow) has passed") and "record a past event" in message
    recorded = await admin.post("/admin/editor/new", data={**fields, "past": "yes"})
    assert recorded.status_code == 303
    stored = site.store.record(NEW_ID)
    assert stored is not None and stored.event.past

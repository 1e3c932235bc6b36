"""The organiser's event editor in the dashboard: new (blank or duplicated), edit, take over, postpone, cancel,
withdraw, export as YAML, and the previews drawn from the form before it is saved. Every change goes through
`Operations.editing`; the form itself is bot/web/eventform.py."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import available_timezones

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.accounts import Role
from bot.config.export import TO_REVIEW, copied_fields, event_data, event_yaml
from bot.domain import Event, EventOrigin, EventStatus, StoredEvent
from bot.operations import EventResult
from bot.preparation import Prepared
from bot.web import covers
from bot.web.auth import flash, requires
from bot.web.dashboard import LIVE_NAMES, PREVIEW_BUDGET, actor_of, page, previews_off_loop, title_of
from bot.web.eventform import (
    SUMMARY,
    Checked,
    EventForm,
    anchor,
    check,
    duplicate_of,
    form_of,
    from_request,
    with_source,
)
from bot.web.state import Web, web_of

log = logging.getLogger(__name__)

PREVIEW_ID = "new-event"  # the id previews use while the form has none yet
LABELS = {
    SUMMARY: "The event", "id": "Id", "lang": "Own language", "status": "Status", "series": "Series", "title": "Title",
    "organiser": "Organiser", "format": "Format", "topic": "Topic", "lead": "Lead", "description": "Description",
    "start": "Start", "end": "End", "previous_start": "Start before the move",
    "timezone": "Time zone", "venue": "Venue", "speakers": "Speakers",
    "moderator": "Moderator", "languages": "Working languages", "accreditation": "Accreditation",
    "live": "Live broadcast", "url": "Event page", "hashtags": "Hashtags", "cover": "Cover",
    "report_title": "Report headline", "report": "Report", "past": "Record a past event",
}


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def _target_langs(web: Web) -> list[str]:
    return list(dict.fromkeys(target.lang for target in web.settings.targets.values()))


async def _stored(web: Web, event_id: str) -> StoredEvent:
    stored = await web.queries.record(event_id)
    if stored is None:
        raise HTTPException(404, "no such event")
    return stored


def label(slot: str) -> str:
    """A slot's words for the list of problems at the top of the form: `Speakers[1].link`, `Title`."""
    head = slot.split(".", 1)[0].split("[", 1)[0]
    return LABELS[slot] if slot in LABELS else LABELS.get(head, head) + slot[len(head):]


# -- reading the browser's form ------------------------------------------------------------------------


async def _submitted(request: Request) -> tuple[dict[str, str], UploadFile | None]:
    form = await request.form()
    fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
    upload = form.get("cover.file")
    return fields, upload if isinstance(upload, UploadFile) and upload.filename else None


async def _sweep_covers(web: Web, keep: str | None = None) -> None:
    """Remove the uploads no saved event uses (bot/web/covers.py: the newest few kept a while for forms sent back
    with errors); `keep` the one the form just handled names."""
    used = {name for stored in await web.queries.records() if stored.event.cover
            and (name := covers.name_of(stored.event.cover.url))}
    if keep and (name := covers.name_of(keep)):
        used.add(name)
    try:
        # Files age by the real clock.
        removed = await asyncio.to_thread(covers.sweep, web.settings.web.covers_dir, used, time.time())
    except OSError as exc:
        log.warning("unused covers could not be removed: %s", exc)
        return
    if removed:
        log.info("removed %d uploaded cover(s) no event uses: %s", len(removed), ", ".join(removed))


async def _with_cover(web: Web, form: EventForm, upload: UploadFile | None) -> tuple[EventForm, dict[str, list[str]]]:
    """Keep a new cover upload, once it has been checked, under its hash; the form then carries its URL (so a
    form returned with errors, or the next preview, keeps the picture without a second upload)."""
    if upload is None:
        return form, {}
    data = await upload.read(web.settings.web.cover_max_bytes + 1)
    try:
        stored = await asyncio.to_thread(covers.store, web.settings.web, form.get("id").strip(), data)  # Pillow
    except covers.CoverError as exc:
        return form, {"cover.file": [str(exc)]}
    except OSError as exc:
        log.warning("a cover upload could not be stored: %s", exc)
        return form, {"cover.file": [f"the image could not be stored on the server ({exc.strerror or exc})"]}
    values = {**form.values, "cover.url": stored.url}
    values.pop("cover.remove", None)
    return replace(form, values=values), {}


async def _read_form(request: Request) -> tuple[EventForm, dict[str, list[str]]]:
    web = web_of(request)
    fields, upload = await _submitted(request)
    form = from_request(fields, _target_langs(web))
    if form.source is not None:
        source = await web.queries.record(form.source)
        form = with_source(form, source.event if source else None, _target_langs(web))
    return await _with_cover(web, form, upload)


# -- pages ----------------------------------------------------------------------------------------------


def _preview_event(checked: Checked, stored: StoredEvent | None = None) -> Event | None:
    """The event to draw previews of: the form's; while only its id is missing, the same with a stand-in id;
    while only its cover is wrong (an upload refused), the same without the cover; else the event as saved (an
    edit), so that a refused form never blanks the previews."""
    if checked.event is not None:
        return checked.event
    data, _ = checked.form.data()
    slots = {slot.split(".", 1)[0] for slot in checked.errors}
    if slots <= {"id", "cover"}:
        fixed = {key: value for key, value in data.items() if key != "cover" or "cover" not in slots}
        if "id" in slots:
            fixed["id"] = PREVIEW_ID
        try:
            return Event.model_validate(fixed)
        except ValueError:
            pass
    return stored.event if stored is not None else None


async def _editor(request: Request, form: EventForm, stored: StoredEvent | None,
                  errors: dict[str, list[str]] | None = None, status: int = 200,
                  prepared: Prepared | None = None) -> Response:
    """The editor page; `errors` are shown once the form was sent (a form just opened shows none), while the
    previews are drawn (off the event loop) whenever the form holds an event."""
    web = web_of(request)
    shown = errors or {}
    previews = await previews_off_loop(web, _preview_event(check(form), stored), editing=True)
    return page(request, "admin_editor.html", {
        "form": form,
        "errors": shown,
        "problems": [(slot, label(slot), message) for slot, messages in shown.items() for message in messages],
        "repeats": form.repeats(),
        "reviewed": TO_REVIEW,
        "stored": stored,
        "heading": "New event" if form.new else f"Edit: {title_of(stored.event) if stored else form.get('id')}",
        "action": "/admin/editor/new" if form.new else f"/admin/events/{form.get('id')}/edit",
        "statuses": [status.value for status in EventStatus],
        "zones": _zones(),
        "anchor": anchor,
        "previews": previews,
        "told": _told(prepared),
        "public_url": web.settings.web.public_url,
        "max_cover": covers.size_of(web.settings.web.cover_max_bytes),
    }, status=status)


@requires(Role.EDITOR)
async def new_event(request: Request) -> Response:
    """A blank event (a draft), or with `?from=ID` a copy of one: what must be new cleared, repeats marked."""
    web = web_of(request)
    source_id = request.query_params.get("from")
    if source_id:
        source = await _stored(web, source_id)
        form = duplicate_of(source.event, copied_fields(source.event), _target_langs(web))
    else:
        # The zone of the latest event is the likeliest one for the next.
        latest = (await web.queries.records())[-1:]
        start = {"status": EventStatus.DRAFT.value, "timezone": latest[0].event.timezone if latest else ""}
        form = form_of(start, _target_langs(web), new=True)
    return await _editor(request, form, None)


@requires(Role.EDITOR)
async def edit_event(request: Request) -> Response:
    web = web_of(request)
    stored = await _stored(web, request.path_params["event_id"])
    if stored.origin is EventOrigin.FILE and stored.withdrawn is None:
        return _file_event(request, stored)
    form = form_of(event_data(stored.event), _target_langs(web), version=stored.version)
    return await _editor(request, form, stored)


def _file_text(web: Web, stored: StoredEvent) -> str:
    """The event's file as it is on disk (only a file under the events folder), else the stored event as YAML."""
    path = Path(stored.source)
    try:
        if path.resolve().is_relative_to(web.config.events_dir.resolve()):
            return path.read_text(encoding="utf-8")
    except OSError:
        pass
    return event_yaml(stored.event, header=f"{stored.source} could not be read: the event as stored")


def _file_event(request: Request, stored: StoredEvent) -> Response:
    web = web_of(request)
    return page(request, "admin_file_event.html", {
        "stored": stored, "event_title": title_of(stored.event), "file_text": _file_text(web, stored),
    })


async def _save(request: Request, stored: StoredEvent | None) -> Response:
    web = web_of(request)
    form, cover_errors = await _read_form(request)
    if op := form.get("op"):  # a row added, removed or moved: the same form again, nothing saved
        return await _editor(request, form.apply(op), stored, cover_errors)
    if stored is not None and form.get("id").strip() != stored.id:
        cover_errors.setdefault("id", []).append(f"the id of an existing event stays {stored.id}: duplicate it to "
                                                 "make an event with another id")
    checked = check(form, extra=cover_errors)
    if checked.event is None:
        await _sweep_covers(web, keep=form.get("cover.url"))
        return await _editor(request, form, stored, checked.errors, status=422)
    result = await web.operations.editing.save(checked.event, actor=actor_of(request), expected=form.version,
                                               new=form.new)
    await _sweep_covers(web, keep=form.get("cover.url"))
    if result.problems:  # posts that could not go out, a start that has passed...: at their fields
        return await _editor(request, form, stored, _slots(result.problems), status=422, prepared=result.prepared)
    if not result.ok:
        slot = "id" if form.new and result.event is not None else SUMMARY
        return await _editor(request, form, stored, {slot: [result.message]}, status=409)
    flash(request, "ok", result.message)
    return RedirectResponse(f"/admin/events/{checked.event.id}", status_code=303)


def _slots(problems: dict[str, list[str]]) -> dict[str, list[str]]:
    """Problems of the prepared plan by the form's slots: a field the form has, else the form as a whole."""
    return {(field if field in LABELS or "." in field else SUMMARY): messages for field, messages in problems.items()}


def _told(prepared: Prepared | None) -> dict[str, list[str]]:
    """What the organiser is told besides errors: what happens now ("the announcement goes out now…") and
    warnings worth a look."""
    if prepared is None:
        return {"notes": [], "warnings": []}
    return {"notes": list(prepared.notes), "warnings": [str(w) for w in prepared.warnings]}


@requires(Role.EDITOR)
async def create_event(request: Request) -> Response:
    return await _save(request, None)


@requires(Role.EDITOR)
async def update_event(request: Request) -> Response:
    return await _save(request, await _stored(web_of(request), request.path_params["event_id"]))


@requires(Role.EDITOR)
async def preview(request: Request) -> Response:
    """The previews of the form as it is now (not saved), its problems by field and the fields that still
    repeat the duplicated event: what the editor's script swaps in while the organiser types."""
    web = web_of(request)
    form, cover_errors = await _read_form(request)
    checked = check(form, extra=cover_errors)
    prepared = None
    if checked.event is not None:  # the plan as saving would make it: what goes out now, what cannot
        stored = None if form.new else await web.queries.record(checked.event.id)
        try:
            prepared = await asyncio.wait_for(web.operations.editing.check(checked.event, stored), PREVIEW_BUDGET)
        except TimeoutError:
            checked = replace(checked, errors={SUMMARY: [f"checking the posts took over {PREVIEW_BUDGET:.0f} s"]})
    problems = {**checked.errors, **_slots(prepared.by_field() if prepared is not None else {})}
    errors: dict[str, list[str]] = {}
    for slot, messages in problems.items():
        errors.setdefault(anchor(slot), []).extend(messages)
    shown = _preview_event(checked)
    return JSONResponse({
        "ok": checked.event is not None and (prepared is None or prepared.ok),
        "drawn": shown is not None,  # not drawn: the script keeps the previews it has
        "previews": await previews_off_loop(web, shown, editing=True),
        "errors": errors,
        "problems": [f"{label(slot)}: {message}" for slot, messages in problems.items() for message in messages],
        "notes": _told(prepared)["notes"],
        "warnings": _told(prepared)["warnings"],
        "repeats": form.repeats(),
        "cover_url": form.get("cover.url") or None,
    }, headers={"Cache-Control": "no-store"})


# -- the event's own actions ---------------------------------------------------------------------------


def _done(request: Request, event_id: str, result: EventResult, to: str | None = None) -> Response:
    flash(request, "ok" if result.ok else "error", result.message)
    return RedirectResponse(to or f"/admin/events/{event_id}", status_code=303)


@requires(Role.EDITOR)
async def take_over(request: Request) -> Response:
    event_id = request.path_params["event_id"]
    result = await web_of(request).operations.editing.take_over(event_id, actor=actor_of(request))
    return _done(request, event_id, result, f"/admin/events/{event_id}/edit" if result.ok else None)


def _moment(value: object, event: Event) -> datetime | None:
    """A wall-clock time typed in the event's zone (`2025-03-10T11:00`), None when blank; ValueError if bad."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=event.zone) if moment.tzinfo is None else moment


@requires(Role.EDITOR)
async def postpone(request: Request) -> Response:
    """To a new date (`when=date`, start and optionally end), or with no date yet (`when=open`)."""
    web = web_of(request)
    stored = await _stored(web, request.path_params["event_id"])
    fields = await request.form()
    expected = str(fields.get("version") or "") or None
    editing, actor = web.operations.editing, actor_of(request)
    if fields.get("when") == "open":
        result = await editing.postpone(stored.id, actor=actor, expected=expected)
        return _done(request, stored.id, result)
    try:
        start, end = _moment(fields.get("start"), stored.event), _moment(fields.get("end"), stored.event)
    except ValueError:
        return _done(request, stored.id, EventResult(ok=False, message="postpone: the new start or end is not a "
                                                                       "date and time (write 2025-03-10 11:00)"))
    if start is None:
        return _done(request, stored.id, EventResult(ok=False, message="postpone: give the new start, or choose "
                                                                       "“no date yet”"))
    return _done(request, stored.id, await editing.postpone(stored.id, actor=actor, start=start, end=end,
                                                            expected=expected))


def _confirmed(fields: FormData) -> bool:
    return fields.get("confirm") == "yes"


@requires(Role.EDITOR)
async def cancel(request: Request) -> Response:
    web = web_of(request)
    stored = await _stored(web, request.path_params["event_id"])
    fields = await request.form()
    if not _confirmed(fields):
        return _done(request, stored.id, EventResult(ok=False, message="cancel: tick the box to confirm"))
    result = await web.operations.editing.cancel(stored.id, actor=actor_of(request),
                                                 expected=str(fields.get("version") or "") or None)
    return _done(request, stored.id, result)


@requires(Role.EDITOR)
async def withdraw(request: Request) -> Response:
    web = web_of(request)
    stored = await _stored(web, request.path_params["event_id"])
    fields = await request.form()
    if not _confirmed(fields):
        return _done(request, stored.id, EventResult(ok=False, message="withdraw: tick the box to confirm"))
    result = await web.operations.editing.withdraw(stored.id, actor=actor_of(request))
    return _done(request, stored.id, result)


@requires(Role.EDITOR)
async def go_live(request: Request) -> Response:
    """"We are live": the stream links given (one per platform, or any one for all) and the live posts sent now."""
    web = web_of(request)
    stored = await _stored(web, request.path_params["event_id"])
    fields = await request.form()
    links = {name: str(fields.get(f"live-{name}") or "").strip() for name in LIVE_NAMES}
    given = {name: url for name, url in links.items() if url}
    result = await web.operations.go_live(stored.id, given, actor=actor_of(request))
    details = "; ".join(r.message for r in result.posts if not r.ok)
    message = result.message + (f" ({details})" if details else "")
    if result.reminders:
        message += f"; {result.reminders} subscriber(s) get the live reminder"
    return _done(request, stored.id, EventResult(ok=result.ok, message=message, event=result.event))


@requires(Role.EDITOR)
async def set_recording(request: Request) -> Response:
    """The recording's links (one per place); a summary waiting for it goes out, one that went out is edited."""
    web = web_of(request)
    stored = await _stored(web, request.path_params["event_id"])
    fields = await request.form()
    given = {name: url for name in RECORDING_NAMES if (url := str(fields.get(f"recording-{name}") or "").strip())}
    result = await web.operations.recording(stored.id, given, actor=actor_of(request))
    details = "; ".join(r.message for r in result.posts if not r.ok)
    message = result.message + (f" ({details})" if details else "")
    return _done(request, stored.id, EventResult(ok=result.ok, message=message, event=result.event))


@requires(Role.VIEWER)
async def export(request: Request) -> Response:
    """The event as a file `announce-bot` reads back (a download)."""
    web = web_of(request)
    stored = await _stored(web, request.path_params["event_id"])
    text = event_yaml(stored.event, header=f"{stored.id}, exported from the dashboard at "
                                           f"{web.clock():%Y-%m-%d %H:%M} UTC (version {stored.version[:12]})")
    return Response(text, media_type="application/yaml; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{stored.id}.yaml"', "Cache-Control": "no-store"})


RECORDING_NAMES = ("vk", "rutube", "youtube", "website")  # where a recording can be given


routes = [
    Route("/admin/editor/new", new_event, methods=["GET"], name="new_event"),
    Route("/admin/editor/new", create_event, methods=["POST"], name="create_event"),
    Route("/admin/editor/preview", preview, methods=["POST"], name="editor_preview"),
    Route("/admin/events/{event_id}/edit", edit_event, methods=["GET"], name="edit_event"),
    Route("/admin/events/{event_id}/edit", update_event, methods=["POST"], name="update_event"),
    Route("/admin/events/{event_id}/take-over", take_over, methods=["POST"], name="take_over"),
    Route("/admin/events/{event_id}/postpone", postpone, methods=["POST"], name="postpone"),
    Route("/admin/events/{event_id}/cancel", cancel, methods=["POST"], name="cancel"),
    Route("/admin/events/{event_id}/withdraw", withdraw, methods=["POST"], name="withdraw"),
    Route("/admin/events/{event_id}/export.yaml", export, methods=["GET"], name="export_event"),
    Route("/admin/events/{event_id}/live", go_live, methods=["POST"], name="go_live"),
    Route("/admin/events/{event_id}/recording", set_recording, methods=["POST"], name="set_recording"),
    *covers.routes,
]

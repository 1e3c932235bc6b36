"""Cover uploads: checked by their content with Pillow, size-limited, re-encoded without metadata, kept under
var/covers by hash and served at the app's own /covers/ URL (from [web] public_url; a /covers/ path without it),
kept only while an event uses them (or briefly, for a form sent back with errors)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import httpx
import pytest
from PIL import Image

from bot.config.settings import WebSettings
from bot.web.covers import UNUSED_FOR, UNUSED_KEPT, CoverError, checked, file_of, store, sweep
from tests.web.editor_pages import form_fields, problems
from tests.web.support import EVENT_ID, Site, SiteFactory, csrf_of, login

PUBLIC = "https://events.example.org"


def _image(kind: str, size: tuple[int, int] = (1200, 630), **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (15, 43, 70)).save(out, kind, **options)
    return out.getvalue()


def test_jpeg_and_png_are_taken_and_re_encoded_without_their_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {2: (55.0, 45.0, 0.0)}  # GPS: where the photo was taken
    photo = _image("JPEG", exif=exif.tobytes())
    assert b"PhoneMaker" in photo
    data, extension, size = checked(photo, 5_000_000)
    assert extension == "jpg" and size == (1200, 630) and b"PhoneMaker" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and not image.getexif()
    data, extension, _ = checked(_image("PNG"), 5_000_000)
    assert extension == "png" and Image.open(io.BytesIO(data)).format == "PNG"


@pytest.mark.parametrize(("data", "words"), [
    (b"", "the file is empty"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "the file is not an image"),
    (_image("GIF"), "a cover must be a JPEG or PNG image; this is GIF"),
    (_image("JPEG")[:600], "the image is damaged or cut short"),
    (_image("PNG", (9000, 1200)), "add up to at most 10000"),
    (_image("PNG", (2100, 100)), "differ at most 20 times"),
])
def test_anything_else_is_refused_with_the_reason(data: bytes, words: str) -> None:
    with pytest.raises(CoverError, match=words):
        checked(data, 5_000_000)


def test_a_file_over_the_limit_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(CoverError, match=r"the file is larger than 0\.1 kB, the most a cover may be"):
        checked(_image("PNG"), 100)


def test_stored_by_content_hash_once_and_found_only_by_names_the_app_makes(tmp_path: Path) -> None:
    web = WebSettings(public_url=PUBLIC, covers_dir=tmp_path / "covers")
    first = store(web, "spring-forum", _image("PNG"))
    again = store(web, "spring-forum", _image("PNG"))
    assert first == again and first.url == f"{PUBLIC}/covers/{first.name}"
    assert [p.name for p in (tmp_path / "covers").iterdir()] == [first.name]  # no temporary file left
    assert file_of(web.covers_dir, first.name) == tmp_path / "covers" / first.name
    assert store(web, "Not An Id", _image("PNG")).name.startswith("new-")
    for name in ("../settings.toml", "spring-forum.png", f"{first.name}.txt", ".upload-x"):
        assert file_of(web.covers_dir, name) is None, name


def test_without_public_url_an_upload_is_kept_under_its_path(tmp_path: Path) -> None:
    web = WebSettings(covers_dir=tmp_path / "covers")
    stored = store(web, "spring-forum", _image("PNG"))
    assert stored.url == f"/covers/{stored.name}" and (tmp_path / "covers" / stored.name).is_file()


def test_uploads_no_event_uses_are_removed_beyond_a_few_recent_ones(tmp_path: Path) -> None:
    web = WebSettings(public_url=PUBLIC, covers_dir=tmp_path / "covers")
    names = [store(web, "spring-forum", _image("PNG", (1200, 600 + n))).name for n in range(UNUSED_KEPT + 3)]
    for age, name in enumerate(reversed(names)):  # the first stored is the oldest
        os.utime(tmp_path / "covers" / name, (1_000_000 + age, 1_000_000 + age))
    now = 1_000_000 + len(names)
    used = {names[0]}  # the oldest is an event's cover: kept whatever its age
    removed = sweep(web.covers_dir, used, now)
    kept = {path.name for path in (tmp_path / "covers").iterdir()}
    assert names[0] in kept and len(kept) == UNUSED_KEPT + 1 and len(removed) == 2
    # A day later every upload no event uses is gone.
    assert set(sweep(web.covers_dir, used, now + UNUSED_FOR + 1)) == kept - used
    assert {path.name for path in (tmp_path / "covers").iterdir()} == used


def _https(site: Site) -> httpx.AsyncClient:
    """With an https public_url the session cookie is Secure: the client must speak https to keep it."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app), base_url="https://testserver")


async def _duplicate_fields(http: httpx.AsyncClient) -> dict[str, str]:
    fields = form_fields((await http.get(f"/admin/editor/new?from={EVENT_ID}")).text)
    fields.update({"id": "spring-forum", "start": "2025-03-10T11:00", "end": "2025-03-10T13:00"})
    return fields


async def test_an_uploaded_cover_is_served_by_the_app_and_becomes_the_events_cover(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PUBLIC_URL", PUBLIC)
    site: Site = make_site()
    async with _https(site) as http:
        await login(http)
        fields = await _duplicate_fields(http)
        fields["cover.alt.en"] = "The conference hall"
        picture = _image("PNG")
        saved = await http.post("/admin/editor/new", data=fields,
                                files={"cover.file": ("hall.png", picture, "image/png")})
        assert saved.status_code == 303, saved.text
        event = site.store.record("spring-forum")
        assert event is not None and event.event.cover is not None
        url = event.event.cover.url
        assert url.startswith(f"{PUBLIC}/covers/spring-forum-") and url.endswith(".png")
        assert event.event.cover.alt == "The conference hall"
        name = url.rsplit("/", 1)[1]
        assert (site.workdir / "var" / "covers" / name).is_file()
        served = await http.get(f"/covers/{name}")
        assert served.status_code == 200 and served.headers["content-type"] == "image/png"
        assert "immutable" in served.headers["cache-control"]
        assert Image.open(io.BytesIO(served.content)).size == (1200, 630)
        assert (await http.get("/covers/spring-forum-0000000000000000.png")).status_code == 404
        # The posts carry it: Telegram's first part is now a photo caption.
        edit = form_fields((await http.get("/admin/events/spring-forum/edit")).text)
        assert edit["cover.url"] == url


async def test_the_preview_keeps_a_checked_upload_so_the_form_names_it(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PUBLIC_URL", PUBLIC)
    site: Site = make_site()
    async with _https(site) as http:
        await login(http)
        fields = await _duplicate_fields(http)
        answer = await http.post("/admin/editor/preview", data=fields,
                                 files={"cover.file": ("hall.jpg", _image("JPEG"), "image/jpeg")})
        body = answer.json()
        assert body["ok"] is True and body["cover_url"].startswith(f"{PUBLIC}/covers/spring-forum-")
        assert f'<img class="tg-photo" src="{body["cover_url"]}"' in body["previews"]
        assert site.store.record("spring-forum") is None


async def test_a_bad_upload_is_said_next_to_the_cover_and_nothing_is_saved(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PUBLIC_URL", PUBLIC)
    site: Site = make_site()
    async with _https(site) as http:
        await login(http)
        fields = await _duplicate_fields(http)
        answer = await http.post("/admin/editor/new", data=fields,
                                 files={"cover.file": ("cover.png", b"#!/bin/sh\necho not a picture\n", "image/png")})
        assert answer.status_code == 422
        assert problems(answer.text, "cover.file") == ["the file is not an image (a cover must be a JPEG or PNG image)"]
        assert form_fields(answer.text)["id"] == "spring-forum"
    assert site.store.record("spring-forum") is None
    assert not (site.workdir / "var" / "covers").exists()


async def test_an_upload_works_on_a_fresh_install_without_public_url(admin: httpx.AsyncClient, site: Site) -> None:
    fields = await _duplicate_fields(admin)
    page = (await admin.get("/admin/editor/new")).text
    assert "the platforms fetch it once <code>[web] public_url</code>" in page
    fields["cover.alt.en"] = "The conference hall"
    answer = await admin.post("/admin/editor/new", data=fields,
                              files={"cover.file": ("hall.png", _image("PNG"), "image/png")})
    assert answer.status_code == 303, problems(answer.text, "cover.url") + problems(answer.text, "cover.file")
    stored = site.store.record("spring-forum")
    assert stored is not None and stored.event.cover is not None
    url = stored.event.cover.url
    assert url.startswith("/covers/spring-forum-")
    assert (await admin.get(url)).status_code == 200
    # The editor shows it (a post gets no image until the platforms can fetch one).
    page = (await admin.get("/admin/events/spring-forum/edit")).text
    assert f'<img class="cover-thumb" src="{url}"' in page


async def test_an_upload_over_the_limit_is_refused(make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__COVER_MAX_BYTES", "20000")
    site: Site = make_site()
    picture = _image("PNG", (1200, 630), compress_level=0)  # uncompressed: well over 20 kB
    assert len(picture) > 20_000
    async with _https(site) as http:
        await login(http)
        answer = await http.post("/admin/editor/new", data=await _duplicate_fields(http),
                                 files={"cover.file": ("big.png", picture, "image/png")})
    assert answer.status_code == 422
    assert problems(answer.text, "cover.file") == ["the file is larger than 20 kB, the most a cover may be"]
    assert site.store.record("spring-forum") is None


async def test_a_refused_form_keeps_its_upload_and_its_previews(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PUBLIC_URL", PUBLIC)
    site: Site = make_site()
    async with _https(site) as http:
        await login(http)
        fields = await _duplicate_fields(http)
        fields["end"] = "2025-03-10T10:00"  # before the start: refused
        answer = await http.post("/admin/editor/new", data=fields,
                                 files={"cover.file": ("hall.png", _image("PNG"), "image/png")})
        assert answer.status_code == 422
        again = form_fields(answer.text)
        assert again["cover.url"].startswith(f"{PUBLIC}/covers/spring-forum-")  # not uploaded a second time
        # An edit refused keeps the previews of the event as saved, instead of blanking them.
        # (the reference event is a file's: take it over to edit it)
        file_page = (await http.get(f"/admin/events/{EVENT_ID}/edit")).text
        await http.post(f"/admin/events/{EVENT_ID}/take-over", data={"csrf_token": csrf_of(file_page)})
        edit = form_fields((await http.get(f"/admin/events/{EVENT_ID}/edit")).text)
        edit["end"] = "2024-11-27T10:00"
        refused = await http.post(f"/admin/events/{EVENT_ID}/edit", data=edit)
        assert refused.status_code == 422
        assert 'class="preview-group"' in refused.text and "The previews appear as soon as" not in refused.text

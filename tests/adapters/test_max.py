"""The MAX adapter against the fake MAX Bot API: the reference posts in MAX's HTML with the cover uploaded and
attached, hostile text escaped, long posts split within 4,000 characters with their tags, edits, the go-live pin,
the token only in the Authorization header, and the CA file a deployment trusts for platform-api2.max.ru."""

from __future__ import annotations

import io
import itertools
import json
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from pydantic import SecretStr

from bot.abc import MemoryParts
from bot.adapters.max import MaxAdapter
from bot.config.settings import MaxTarget
from bot.domain import Event, Platform, PostKind, RenderedPost
from bot.errors import CredentialsError, PermanentError, TransientError
from bot.platforms import MAX
from bot.rendering.renderer import Destination, Renderer
from tests.conftest import RenderFn
from tests.fakes.max import TEXT_LIMIT, FakeMax

TOKEN = "max-test-bot-token-SECRET-1234567890"
CHANNEL = -72000000000001


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), (15, 43, 70)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def fake() -> Iterator[FakeMax]:
    with FakeMax(TOKEN, CHANNEL) as server:
        yield server  # type: ignore[misc]


class Pauses:
    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


@pytest.fixture
def pauses() -> Pauses:
    return Pauses()


@pytest.fixture
async def adapter(fake: FakeMax, pauses: Pauses) -> AsyncIterator[MaxAdapter]:
    target = MaxTarget(platform=Platform.MAX, chat_id=str(CHANNEL), token=SecretStr(TOKEN),
                       api_base_url=fake.base_url, timeout=2.0)
    made = MaxAdapter("max", target, sleep=pauses)
    yield made
    await made.aclose()


def with_cover(post: RenderedPost, url: str) -> RenderedPost:
    return post.model_copy(update={"image": url})


def assert_token_only_in_the_header(fake: FakeMax) -> None:
    api = [r for r in fake.requests if not r.path.startswith(("/upload/", "/files/"))]
    assert api and all(r.headers.get("authorization") == TOKEN for r in api)
    for request in fake.requests:
        assert TOKEN not in request.path and TOKEN not in request.body.decode("utf-8", "replace")
        assert TOKEN not in json.dumps(request.params, default=str)
    others = [r for r in fake.requests if r.path.startswith(("/upload/", "/files/"))]
    assert all("authorization" not in r.headers for r in others)  # the image hosts never see it


async def test_the_announcement_goes_out_in_max_html_with_the_cover_uploaded_and_attached(
    adapter: MaxAdapter, fake: FakeMax, render: RenderFn
) -> None:
    cover = fake.serve_file("/files/cover.jpg", jpeg(), "image/jpeg")
    post = with_cover(render(PostKind.ANNOUNCEMENT, Platform.MAX, "ru", target="max"), cover)

    receipt = await adapter.publish(post, MemoryParts())

    [message] = fake.channel_posts()
    assert message.format == "html" and message.source == post.parts[0].text
    assert len(message.source) <= TEXT_LIMIT and message.stripped == []  # every tag one MAX knows
    assert {m["type"] for m in message.markup} >= {"strong", "link"}  # the title in bold, the event page a link
    assert message.image is not None and [upload[0] for upload in fake.uploads.values()] == ["image"]
    assert len(fake.calls("POST /messages")) == 1 and len(fake.calls("POST /uploads")) == 1
    assert receipt.post_id == message.mid and receipt.link == f"https://max.ru/valdaiclub/{message.mid}"
    assert message.notify  # a channel refuses notify=false
    assert_token_only_in_the_header(fake)


async def test_hostile_text_reaches_readers_as_written(adapter: MaxAdapter, fake: FakeMax, renderer: Renderer,
                                                       reference_event: Event) -> None:
    hostile = '<script>alert("x")</script> & <b>bold</b> &amp; <a href="javascript:evil()">x</a> \u202e 🇷🇺'
    event = reference_event.model_copy(update={"title": hostile, "lead": f"{hostile} lead", "hashtags": ()})
    post = renderer.render(event, PostKind.ANNOUNCEMENT, Destination(target="max", platform=Platform.MAX, lang="en"))

    await adapter.publish(post, MemoryParts())

    [message] = fake.channel_posts()
    assert message.stripped == []  # nothing of the text was taken for a tag
    assert hostile in message.text and f"{hostile} lead" in message.text
    links = [m["url"] for m in message.markup if m["type"] == "link"]
    assert "javascript:evil()" not in links
    bold = next(m for m in message.markup if m["type"] == "strong")
    assert message.text[bold["from"]:bold["from"] + bold["length"]] == hostile  # the title, all of it, in bold


async def test_a_long_post_is_split_within_4000_characters_with_its_tags_and_the_parts_reply_to_the_first(
    adapter: MaxAdapter, fake: FakeMax, renderer: Renderer, reference_event: Event
) -> None:
    # A bold title longer than a message, and escaped ampersands: tags and entities count towards MAX's limit, and
    # the bold cut in two is closed at the end of one part and reopened in the next.
    long = "\n\n".join(f"Paragraph {n}: " + "Tom & Jerry <talk> about treaties. " * 40 for n in range(4))
    event = reference_event.model_copy(update={"description": long, "title": "Title " * 800})
    post = renderer.render(event, PostKind.ANNOUNCEMENT, Destination(target="max", platform=Platform.MAX, lang="en"))
    assert len(post.parts) > 2

    receipt = await adapter.publish(post, MemoryParts())

    sent = fake.channel_posts()
    assert [m.source for m in sent] == [p.text for p in post.parts]
    assert all(len(m.source.encode("utf-16-le")) // 2 <= MAX.max_length for m in sent)
    assert all(m.stripped == [] for m in sent)
    assert sent[0].link is None and all(m.link == {"type": "reply", "mid": sent[0].mid} for m in sent[1:])
    assert "".join(m.text for m in sent).count("Tom & Jerry <talk>") == 4 * 40
    assert any(a.source.endswith("</b>") and b.source.startswith("<b>Title") for a, b in itertools.pairwise(sent))
    assert sum(m["length"] for part in sent for m in part.markup if m["type"] == "strong"
               and part.text[m["from"]:].startswith("Title")) == len(("Title " * 800).strip())
    assert receipt.extra_ids == tuple(m.mid for m in sent[1:])


async def test_an_image_still_being_processed_is_waited_for_and_sent_once(
    adapter: MaxAdapter, fake: FakeMax, render: RenderFn, pauses: Pauses
) -> None:
    cover = fake.serve_file("/files/cover.jpg", jpeg(), "image/jpeg")
    fake.not_ready = 2
    await adapter.publish(with_cover(render(PostKind.ANNOUNCEMENT, Platform.MAX, "ru", target="max"), cover))
    assert len(fake.channel_posts()) == 1 and fake.channel_posts()[0].image is not None
    assert pauses.taken == [0.5, 1.0]


async def test_an_image_never_processed_is_transient_and_nothing_is_published(
    adapter: MaxAdapter, fake: FakeMax, render: RenderFn
) -> None:
    cover = fake.serve_file("/files/cover.jpg", jpeg(), "image/jpeg")
    fake.not_ready = 10
    with pytest.raises(TransientError, match="still being processed; nothing was sent"):
        await adapter.publish(with_cover(render(PostKind.ANNOUNCEMENT, Platform.MAX, "ru", target="max"), cover))
    assert fake.channel_posts() == []


@pytest.mark.parametrize(("path", "content", "kind"), [
    ("/files/missing.jpg", None, None), ("/files/page.html", b"<html></html>", "text/html"),
], ids=["404", "not-an-image"])
async def test_a_cover_that_cannot_be_used_is_left_out_and_the_post_goes_out(
    adapter: MaxAdapter, fake: FakeMax, render: RenderFn, caplog: pytest.LogCaptureFixture, path: str,
    content: bytes | None, kind: str | None
) -> None:
    url = fake.serve_file(path, content, kind) if content and kind else f"{fake.base_url}{path}"
    await adapter.publish(with_cover(render(PostKind.ANNOUNCEMENT, Platform.MAX, "ru", target="max"), url))
    [message] = fake.channel_posts()
    assert message.image is None and fake.uploads == {}
    assert "goes out without it" in caplog.text and TOKEN not in caplog.text


async def test_edit_changes_the_text_and_keeps_the_cover(adapter: MaxAdapter, fake: FakeMax, render: RenderFn,
                                                         renderer: Renderer, reference_event: Event) -> None:
    cover = fake.serve_file("/files/cover.jpg", jpeg(), "image/jpeg")
    post = with_cover(render(PostKind.ANNOUNCEMENT, Platform.MAX, "en", target="max"), cover)
    receipt = await adapter.publish(post)
    moved = reference_event.model_copy(update={"start": reference_event.start + timedelta(days=1),
                                               "end": reference_event.end + timedelta(days=1)})
    corrected = renderer.render(moved, PostKind.ANNOUNCEMENT, Destination(target="max", platform=Platform.MAX,
                                                                          lang="en"))

    await adapter.edit((receipt.post_id,), corrected, None)

    [message] = fake.channel_posts()
    assert message.edits == 1 and message.source == corrected.parts[0].text != post.parts[0].text
    assert message.image is not None  # attachments left as they were


async def test_pin_live_edits_and_pins_quietly_and_unpin_leaves_someone_elses_pin(
    adapter: MaxAdapter, fake: FakeMax, render: RenderFn
) -> None:
    receipt = await adapter.publish(render(PostKind.ANNOUNCEMENT, Platform.MAX, "en", target="max"))
    live_text = f"{fake.channel_posts()[0].source}\n\n<b>Live now</b>"

    await adapter.pin_live(receipt.post_id, live_text, caption=False)

    [message] = fake.channel_posts()
    assert message.source == live_text and message.edits == 1
    assert fake.pins == [(CHANNEL, receipt.post_id, False)]
    other = await adapter.publish(render(PostKind.REMINDER, Platform.MAX, "en", target="max"))
    fake.pinned[CHANNEL] = other.post_id  # the organiser pinned something else meanwhile
    await adapter.unpin(receipt.post_id)
    assert fake.unpins == [] and fake.pinned[CHANNEL] == other.post_id
    fake.pinned[CHANNEL] = receipt.post_id
    await adapter.unpin(receipt.post_id)
    assert fake.unpins == [CHANNEL] and fake.pinned[CHANNEL] is None


async def test_a_token_in_the_query_string_is_refused_by_the_fake_as_by_max(fake: FakeMax) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        in_query = await client.get(f"{fake.base_url}/me", params={"access_token": TOKEN})
        in_header = await client.get(f"{fake.base_url}/me", headers={"Authorization": TOKEN})
    assert in_query.status_code == 401 and in_query.json()["code"] == "verify.token"
    assert in_header.status_code == 200


async def test_a_wrong_token_is_a_credentials_error_found_before_anything_is_sent(fake: FakeMax) -> None:
    adapter = MaxAdapter("max", MaxTarget(platform=Platform.MAX, chat_id=str(CHANNEL), api_base_url=fake.base_url,
                                          token=SecretStr("not-the-token")))
    try:
        with pytest.raises(CredentialsError, match=r"business\.max\.ru") as caught:
            await adapter.prepare()
    finally:
        await adapter.aclose()
    assert "not-the-token" not in str(caught.value)
    assert fake.calls("POST /messages") == []


async def test_a_channel_that_is_not_the_bots_is_a_permanent_error(fake: FakeMax, render: RenderFn) -> None:
    adapter = MaxAdapter("max", MaxTarget(platform=Platform.MAX, chat_id="-1", api_base_url=fake.base_url,
                                          token=SecretStr(TOKEN)))
    try:
        with pytest.raises(PermanentError, match=r"chat\.not\.found"):
            await adapter.publish(render(PostKind.ANNOUNCEMENT, Platform.MAX, "en", target="max"))
    finally:
        await adapter.aclose()


def make_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A root CA of our own (as the Ministry's is to most systems) and a certificate it signed for 127.0.0.1:
    the CA's PEM, the server's certificate and its key. Made by the openssl command, as an operator would."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test Trusted Root CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n", encoding="ascii")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "san.ext", "-out", "server.pem")
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
async def test_over_https_the_ca_file_is_what_lets_the_bot_trust_max(tmp_path: Path, render: RenderFn) -> None:
    ca, certificate, key = make_ca(tmp_path)
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(certificate, key)
    with FakeMax(TOKEN, CHANNEL) as fake:
        fake.wrap_socket(server_side)
        https = fake.base_url.replace("http://", "https://")
        post = render(PostKind.ANNOUNCEMENT, Platform.MAX, "ru", target="max")
        untrusting = MaxAdapter("max", MaxTarget(platform=Platform.MAX, chat_id=str(CHANNEL), token=SecretStr(TOKEN),
                                                 api_base_url=https, timeout=2.0))
        trusting = MaxAdapter("max", MaxTarget(platform=Platform.MAX, chat_id=str(CHANNEL), token=SecretStr(TOKEN),
                                               api_base_url=https, timeout=2.0, ca_file=ca))
        try:
            with pytest.raises(TransientError, match="cannot reach MAX") as refused:
                await untrusting.publish(post)
            receipt = await trusting.publish(post)
        finally:
            await untrusting.aclose()
            await trusting.aclose()
    assert "nothing was sent" in str(refused.value)
    assert [m.mid for m in fake.channel_posts()] == [receipt.post_id]
    with pytest.raises(ValueError, match="cannot read"):
        MaxTarget(platform=Platform.MAX, chat_id="-1", ca_file=tmp_path / "missing.pem")

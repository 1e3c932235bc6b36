"""The web app as the real server serves it: TCP_NODELAY on every accepted connection, static files gzipped,
cached for an hour and revalidated (304) with their ETag or Last-Modified."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.web import STATIC_MAX_AGE
from bot.web.server import WebServer
from bot.web.state import STATIC_DIR
from tests.web.support import Site


@pytest.fixture
async def served(site: Site) -> AsyncIterator[WebServer]:
    server = WebServer(site.app, "127.0.0.1", 0)
    await server.start()
    yield server
    await server.stop()
    await site.publisher.aclose()


def nodelay(server: WebServer) -> list[int]:
    """TCP_NODELAY of each connection the server accepted, read from its own sockets."""
    flags = []
    for connection in server.server.server_state.connections:
        sock = connection.transport.get_extra_info("socket")  # type: ignore[attr-defined]
        flags.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    return flags


async def test_accepted_connections_send_without_waiting_for_an_ack(served: WebServer) -> None:
    async with httpx.AsyncClient(base_url=served.url) as http:
        for _ in range(3):  # one keep-alive connection: every response after the first used to wait ~40 ms
            assert (await http.get("/events")).status_code == 200
        assert nodelay(served) == [1]
    assert served.socket.proto == socket.IPPROTO_TCP


async def test_static_files_are_gzipped_cached_and_revalidated(served: WebServer) -> None:
    css = (STATIC_DIR / "app.css").read_bytes()
    async with httpx.AsyncClient(base_url=served.url) as http:
        answer = await http.get("/static/app.css", headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200
        assert answer.headers["content-encoding"] == "gzip" and "accept-encoding" in answer.headers["vary"].lower()
        assert int(answer.headers["content-length"]) < len(css) / 2
        assert answer.content == css  # httpx decoded it: the same file
        assert answer.headers["cache-control"] == f"public, max-age={STATIC_MAX_AGE}"
        etag, modified = answer.headers["etag"], answer.headers["last-modified"]
        assert etag.startswith('W/"')  # gzipped or not, the same file: a weak validator
        again = await http.get("/static/app.css", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["cache-control"] == f"public, max-age={STATIC_MAX_AGE}" and again.headers["etag"] == etag
        since = await http.get("/static/app.css", headers={"If-Modified-Since": modified})
        assert since.status_code == 304
        plain = await http.get("/static/app.css", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == css
        small = await http.get("/static/countdown.js", headers={"Accept-Encoding": "gzip"})
        assert small.status_code == 200 and small.headers["cache-control"].startswith("public, max-age=")

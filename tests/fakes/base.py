"""A threaded HTTP server on 127.0.0.1 that records requests and can answer with scripted faults.

Faults a platform's network can produce, as the client sees them:
- an HTTP answer of any status (`Reply(status=..., body=...)`);
- `dropped()`: the connection closes without an answer, and the request was not acted on;
- `record_then_drop()`: the platform acts on the request (stores the post), then the connection closes
  without an answer -- the case where a blind retry publishes twice;
- `reset()` / `record_then_reset()`: the same with a TCP reset instead of an orderly close;
- `late(seconds)`: the platform acts on the request and answers, `seconds` late (a read timeout);
- `held(release)`: the platform acts on the request and answers when the test sets `release` (a read timeout
  that waits on no clock);
- `refuse_connections()`: nothing listens on the port any more (connection refused), until
  `accept_connections()`;
- `Blackhole()`: an address where connecting times out.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HELD_AT_MOST = 60.0  # a held answer whose test failed before releasing it ends its thread after this


@dataclass
class Request:
    """One request as the fake saw it."""

    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]
    body: bytes = b""


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow server)
    drop: bool = False  # close the connection without answering
    reset: bool = False  # abort the connection (TCP RST) without answering
    handled: bool = False  # a fault only in delivery: the request is handled as usual first, then delay/drop/reset
    release: threading.Event | None = None  # answer only once this is set (a test's hand, not a clock)


def dropped() -> Reply:
    """The connection closes without an answer before the platform acted on the request."""
    return Reply(drop=True)


def record_then_drop() -> Reply:
    """The platform acts on the request (the post is published), then the connection closes without an answer."""
    return Reply(handled=True, drop=True)


def reset() -> Reply:
    """The connection is reset before the platform acted on the request."""
    return Reply(reset=True)


def record_then_reset() -> Reply:
    """The platform acts on the request, then the connection is reset instead of answered."""
    return Reply(handled=True, reset=True)


def late(seconds: float) -> Reply:
    """The platform acts on the request and answers as usual, `seconds` late."""
    return Reply(handled=True, delay=seconds)


def held(release: threading.Event) -> Reply:
    """The platform acts on the request and answers once `release` is set: after the client gave up waiting."""
    return Reply(handled=True, release=release)


class Blackhole:
    """An address where connecting times out: a listening socket that never accepts, its backlog filled,
    so that the kernel drops further connection attempts (as a firewall that silently drops packets)."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(0)
        self._fillers: list[socket.socket] = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(self._socket.getsockname())
            self._fillers.append(filler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def close(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._socket.close()


class _Server(ThreadingHTTPServer):
    """Sets TCP_NODELAY on every accepted connection and remembers the open ones, so that going offline can
    close them; a client that gave up mid-answer is not worth a traceback."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        # The handler writes headers and body separately: without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer, which would swamp any latency measured through here.
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.connections_lock:
            self.open_connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class FakeServer:
    """Subclasses implement `handle(request) -> Reply`; tests queue faults with `fail_next` or `fail_request`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._faults: deque[Reply] = deque()
        self._at: dict[int, Reply] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    path=urlsplit(self.path).path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    params=_params(self.path, self.headers.get("Content-Type", ""), body),
                    body=body,
                )
                reply = fake._reply(request)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.release is not None:
                    reply.release.wait(HELD_AT_MOST)
                if reply.reset:
                    # SO_LINGER with a zero timeout turns the close into a TCP RST.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                if reply.drop:
                    # An orderly close without an answer: the client sees "disconnected without a response".
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._handler = Handler
        self._server: _Server | None = _Server(("127.0.0.1", 0), Handler)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults --------------------------------------------------------------------------------------------

    def fail_next(self, reply: Reply, times: int = 1) -> None:
        """Answer the next `times` requests with `reply` instead of handling them."""
        with self._lock:
            self._faults.extend([reply] * times)

    def fail_request(self, at: int, reply: Reply) -> None:
        """Answer the at-th request (counting from 1, every request the fake saw) with `reply`."""
        with self._lock:
            self._at[at] = reply

    def refuse_connections(self) -> None:
        """Stop listening and close every open connection: connecting is refused until `accept_connections`."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with server.connections_lock:
            connections = list(server.open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # the client's idle pooled connection sees the close

    def accept_connections(self) -> None:
        """Listen again on the same port, after `refuse_connections`."""
        if self._server is not None:
            return
        self._server = _Server(("127.0.0.1", self._port), self._handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def fault_for(self, request: Request) -> Reply | None:
        """A subclass's own scripted fault for `request` (e.g. per API method), or None."""
        return None

    def _reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            at = self._at.pop(len(self.requests), None)
            fault = self._faults.popleft() if self._faults else at
        if fault is None:
            fault = self.fault_for(request)
        if fault is None:
            return self.handle(request)
        if fault.handled:
            answer = self.handle(request)
            return replace(answer, delay=fault.delay, drop=fault.drop, reset=fault.reset, release=fault.release)
        return fault

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError


class ScriptedFaults(FakeServer):
    """Network faults scripted per request: each answers the next `times` requests instead of handling them,
    or with `at`, only the at-th request (counting from 1, every request the fake saw)."""

    def _script(self, reply: Reply, times: int, at: int | None) -> None:
        # Bare names below are this module's functions: a method's name is not in scope inside its body.
        if at is None:
            self.fail_next(reply, times)
        else:
            self.fail_request(at, reply)

    def slow(self, delay: float, times: int = 1, at: int | None = None) -> None:
        """The platform acts on the request (publishes) and answers `delay` seconds late."""
        self._script(late(delay), times, at)

    def drop(self, times: int = 1, at: int | None = None) -> None:
        """The connection closes without an answer; the platform did not act on the request."""
        self._script(dropped(), times, at)

    def record_then_drop(self, times: int = 1, at: int | None = None) -> None:
        """The platform acts on the request (publishes), then the connection closes without an answer."""
        self._script(record_then_drop(), times, at)

    def reset(self, times: int = 1, at: int | None = None) -> None:
        self._script(reset(), times, at)

    def record_then_reset(self, times: int = 1, at: int | None = None) -> None:
        self._script(record_then_reset(), times, at)


def _params(path: str, content_type: str, body: bytes) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(urlsplit(path).query))
    if "application/json" in content_type and body:
        params.update(json.loads(body))
    elif "application/x-www-form-urlencoded" in content_type and body:
        params.update(parse_qsl(body.decode()))
    elif "multipart/form-data" in content_type and body:
        params.update(_multipart(content_type, body))
    return params


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        fields[str(name)] = payload if part.get_filename() else payload.decode()
    return fields

"""An event's public page over one keep-alive connection, against a bare Starlette route returning the same bytes.

`python -m bench.web [--requests 1000]` (from the repository root).

A process of its own serves, each with bot/web/server.py's WebServer (uvicorn on a socket bound as the bot
binds it): the real app (`create_app` on the shipped config, its events in SQLite) and a bare Starlette app
whose one route returns the bytes of the real `/events/<id>` page; and, for comparison, the real app on a
socket bound the old way (protocol 0, so asyncio never set TCP_NODELAY). This process asks, over one
keep-alive connection per server (the standard library's http.client), one GET at a time, alternating between
the servers so that the machine's other load weighs on both alike; each request's latency is from sending it
to having read the whole answer. The last lines are `NAME: VALUE (target ...)`.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

WARM_UP = 50
EVENT = "russia-dprk-treaty"
PATH = f"/events/{EVENT}"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def serve(connection: Connection) -> None:
    """The child process: the three servers until the parent says stop."""
    asyncio.run(_serve(connection))


async def _serve(connection: Connection) -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from bot.config import load_config
    from bot.importing import import_events
    from bot.runtime import Runtime
    from bot.storage import Store, open_database
    from bot.web import create_app
    from bot.web.server import WebServer

    folder = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        os.environ["ANNOUNCE_BOT_WEB__SESSION_KEY"] = "bench-" + "k" * 40
        config = load_config(ROOT / "config")
        store = Store(open_database(f"sqlite:///{folder / 'web.db'}"))
        import_events(config, store, datetime(2024, 9, 1, tzinfo=UTC))
        runtime = Runtime.build(config, store=store, notify=False)
        app = create_app(runtime.live, runtime.operations, clock=runtime.dispatcher.clock)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as inside:
            page = await inside.get(PATH)
        assert page.status_code == 200, page.text
        body, media_type = page.content, page.headers["content-type"]

        async def bare_page(request: Request) -> Response:
            return Response(body, media_type=media_type)

        bare = Starlette(routes=[Route(PATH, bare_page)])
        servers = [WebServer(app, "127.0.0.1", 0), WebServer(bare, "127.0.0.1", 0)]
        old = WebServer(app, "127.0.0.1", 0)
        old.socket.close()  # the same server on a socket bound as before the fix: protocol 0
        old.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        old.socket.bind(("127.0.0.1", 0))
        old.socket.listen(128)
        servers.append(old)
        for server in servers:
            await server.start()
        connection.send(([server.socket.getsockname()[1] for server in servers], len(body)))
        await asyncio.to_thread(connection.recv)
        for server in servers:
            await server.stop()
        await runtime.aclose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def get(client: http.client.HTTPConnection) -> tuple[float, int]:
    started = time.perf_counter()
    client.request("GET", PATH, headers={"Accept-Encoding": "identity"})
    answer = client.getresponse()
    size = len(answer.read())
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status != 200:
        raise RuntimeError(f"GET {PATH}: HTTP {answer.status}")
    return elapsed, size


def report(name: str, values: list[float]) -> dict[str, float]:
    figures = {"p50": statistics.median(values), "p99": percentile(values, 0.99), "mean": statistics.fmean(values)}
    print(f"{name:<40} p50 {figures['p50']:7.2f} ms   p99 {figures['p99']:7.2f} ms   mean {figures['mean']:7.2f} ms",
          flush=True)
    return figures


def measure(ports: list[int], requests: int, old_requests: int) -> dict[str, Any]:
    mine, bare, old = (http.client.HTTPConnection("127.0.0.1", port, timeout=30) for port in ports)
    times: dict[str, list[float]] = {"mine": [], "bare": [], "old": []}
    sizes: set[int] = set()
    for index in range(WARM_UP + requests):
        order = ((mine, "mine"), (bare, "bare")) if index % 2 else ((bare, "bare"), (mine, "mine"))
        for client, name in order:
            elapsed, size = get(client)
            sizes.add(size)
            if index >= WARM_UP:
                times[name].append(elapsed)
    for _ in range(old_requests):
        times["old"].append(get(old)[0])
    for client in (mine, bare, old):
        client.close()
    if len(sizes) != 1:
        raise RuntimeError(f"the two answers differ in size: {sorted(sizes)}")
    print(f"{requests} sequential GETs of {PATH} on one keep-alive connection each ({sizes.pop()} bytes), "
          f"after {WARM_UP} to warm up, alternating")
    base = report("bare Starlette route, same bytes", times["bare"])
    real = report("announce-bot event page", times["mine"])
    before = report(f"the page without TCP_NODELAY ({old_requests})", times["old"])
    ratio = {key: real[key] / base[key] for key in ("p50", "p99")}
    print(f"web_bare_p50: {base['p50']:.2f} ms (the baseline)")
    print(f"web_bare_p99: {base['p99']:.2f} ms (the baseline)")
    print(f"web_event_p50: {real['p50']:.2f} ms")
    print(f"web_event_p99: {real['p99']:.2f} ms")
    print(f"web_p50_ratio: {ratio['p50']:.2f}")
    print(f"web_p99_ratio: {ratio['p99']:.2f} (target <= 2)")
    print(f"web_without_nodelay_p50: {before['p50']:.2f} ms (as before the fix)")
    return {"bare": base, "page": real, "without_nodelay": before, "ratio": ratio}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--old-requests", type=int, default=50, help="GETs on the socket without TCP_NODELAY")
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve, args=(child,), daemon=True)
    server.start()
    try:
        ports, _ = parent.recv()
        return measure(ports, args.requests, args.old_requests)
    finally:
        parent.send("stop")
        server.join(timeout=15)


if __name__ == "__main__":
    main()

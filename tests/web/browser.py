"""Real headless Chromium for the web tests (Debian's package, driven by Playwright): the app served on a loopback
port, a browser with axe-core in every page, and what the tests measure and keep (screenshots, reports)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bot.web.server import WebServer
from tests.conftest import ROOT
from tests.web.support import PASSWORD, Site

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
# No downloaded browser builds, no calls home: only the loopback app is ever asked for.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "var" / "test-artifacts"
AXE = Path(__file__).with_name("vendor") / "axe.min.js"  # axe-core from npm, see vendor/README.md
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing under CI: .ci/run installs Debian's chromium package")
    pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium); CI installs it")


class Served:
    """The app served by uvicorn on a free loopback port, in a thread with its own event loop."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="web-under-test", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            server = WebServer(self.site.app, "127.0.0.1", 0)
            await server.start()
            self.url = server.url
            self._ready.set()
            await self._stop.wait()
            await server.stop()
            await self.site.publisher.aclose()

        try:
            asyncio.run(main())
        except BaseException as exc:  # shown by start()
            self._error = exc
            self._ready.set()

    def start(self) -> Served:
        self._thread.start()
        assert self._ready.wait(20), "the web app did not start"
        if self._error is not None:
            raise self._error
        return self

    def call(self, work: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run `work()` on the served app's event loop, where its dispatcher, publisher (and a chat bot started
        here) live, and wait for its result: how a test drives them without a second loop."""
        assert self._loop is not None, "the web app is not running"

        async def run() -> T:
            return await work()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


def launch(playwright: Any) -> Browser:
    """Debian's Chromium (never a downloaded build), headless, asking nothing of the network."""
    browser: Browser = playwright.chromium.launch(executable_path=str(chromium()), headless=True, args=CHROMIUM_ARGS)
    return browser


def context(browser: Browser, viewport: dict[str, int]) -> BrowserContext:
    """A browser context whose every page has axe-core (injected by the browser, not the page: the app's CSP,
    which allows no inline script, stays as it is)."""
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    context.add_init_script(path=str(AXE))
    return context


def watch(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def log_in(page: Page, url: str) -> None:
    page.goto(f"{url}/admin/login")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{url}/admin")


def serious(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in result["violations"]:
        if violation["impact"] not in ("serious", "critical"):
            continue
        where = []
        for node in violation["nodes"]:
            data = next((check.get("data") for check in node["any"] if isinstance(check.get("data"), dict)), None)
            colours = f" {data.get('fgColor')} on {data.get('bgColor')} = {data.get('contrastRatio')}" if data else ""
            where.append(f"{json.dumps(node['target'])}{colours}")
        found.append(f"{violation['id']} ({violation['impact']}): {violation['help']}, {len(where)}×: "
                     + "; ".join(dict.fromkeys(where)))
    return found


def overflow(page: Page) -> tuple[int, int]:
    width: tuple[int, int] = tuple(page.evaluate(  # type: ignore[assignment]
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"))
    return width


WIDEST = """() => {
  const width = document.documentElement.clientWidth;
  const past = (node) => node && node.getBoundingClientRect().right > width + 1;
  const out = [];
  for (const node of document.querySelectorAll("body *")) {
    if (past(node) && !past(node.parentElement)) {
      const classes = typeof node.className === "string" ? node.className.trim().split(/\\s+/).join(".") : "";
      out.push(node.tagName.toLowerCase() + (node.id ? "#" + node.id : "") + (classes ? "." + classes : "")
               + " right=" + Math.round(node.getBoundingClientRect().right));
    }
  }
  return out.slice(0, 8);
}"""


def widest(page: Page) -> list[str]:
    """The outermost elements that reach past the screen's right edge (what makes a page scroll sideways)."""
    found: list[str] = page.evaluate(WIDEST)
    return found


def shoot(page: Page, folder: Path, name: str) -> Path:
    shot = folder / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    return shot


def keep(shots: list[Path], report: str, lines: list[str]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        assert shot.stat().st_size > 5_000, shot
        shutil.copy(shot, ARTIFACTS / shot.name)
    (ARTIFACTS / report).write_text("".join(f"- {line}\n" for line in lines), encoding="utf-8")
    print(f"\nscreenshots in {ARTIFACTS}: {', '.join(shot.name for shot in shots)}")
    print("".join(f"- {line}\n" for line in lines))

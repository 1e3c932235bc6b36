"""Every dashboard and public page in Chromium at 1280 and 390 px: axe-core finds no serious or critical violation,
and no page is wider than a phone's screen (scrollWidth <= clientWidth); screenshots in var/test-artifacts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.web.browser import (
    DESKTOP,
    PHONE,
    Served,
    context,
    keep,
    launch,
    log_in,
    overflow,
    serious,
    shoot,
    watch,
    widest,
)
from tests.web.support import EVENT_ID

pytestmark = pytest.mark.slow  # Chromium

# Each view: a name, and how the browser gets there from a signed-in page (a path, or a few steps).
READ_ONLY = ["/admin", f"/admin/events/{EVENT_ID}", f"/admin/events/{EVENT_ID}/edit", "/admin/editor/new",
             f"/admin/editor/new?from={EVENT_ID}", "/admin/events/no-such-event", "/events", f"/events/{EVENT_ID}",
             f"/events/{EVENT_ID}?lang=ru", "/events/no-such-event"]
SHOTS = ("/admin", f"/admin/events/{EVENT_ID}", f"/admin/events/{EVENT_ID}/edit", f"/events/{EVENT_ID}")


def _editor_with_problems(page: Page, url: str) -> None:
    """A duplicate sent without its id and dates: the list of problems on top, each also next to its field."""
    page.goto(f"{url}/admin/editor/new?from={EVENT_ID}")
    page.get_by_role("button", name="Create the event").first.click()
    expect(page.locator("#problems")).to_be_visible()


def _changes_open(page: Page, url: str) -> None:
    """The event page of a dashboard event with its postpone, cancel and withdraw forms open."""
    page.goto(f"{url}/admin/events/{EVENT_ID}")
    page.locator(".event-changes summary").click()
    expect(page.locator(".event-changes form").first).to_be_visible()


def _take_over(page: Page, url: str) -> None:
    page.goto(f"{url}/admin/events/{EVENT_ID}/edit")
    page.get_by_role("button", name="Take over: edit it in the dashboard").click()
    expect(page).to_have_url(f"{url}/admin/events/{EVENT_ID}/edit")


TAKEN_OVER: list[tuple[str, Callable[[Page, str], None]]] = [
    ("the editor of a dashboard event", lambda page, url: page.goto(f"{url}/admin/events/{EVENT_ID}/edit")),
    ("a dashboard event's postpone, cancel and withdraw", _changes_open),
    ("the editor with problems", _editor_with_problems),
]


def test_every_page_passes_axe_and_fits_a_phone(served: Served, tmp_path: Path) -> None:
    """Dashboard and public pages at 1280 and 390 px: no serious or critical axe-core violation, no page wider
    than the screen; first the reference event as a file's (read-only), then taken over in the dashboard."""
    url = served.url
    found: dict[str, list[str]] = {}
    too_wide: dict[str, tuple[object, ...]] = {}
    shots: list[Path] = []
    views: list[tuple[str, Callable[[Page, str], None]]] = [
        (path, lambda page, url, path=path: page.goto(f"{url}{path}")) for path in READ_ONLY]  # type: ignore[misc]
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            pages = {name: context(browser, viewport).new_page() for name, viewport in (("1280", DESKTOP),
                                                                                         ("390", PHONE))}
            errors = {name: watch(page) for name, page in pages.items()}
            for name, page in pages.items():
                page.goto(f"{url}/admin/login")
                found[f"/admin/login @{name}"] = serious(page)
                log_in(page, url)
            for phase in (views, TAKEN_OVER):
                if phase is TAKEN_OVER:
                    _take_over(pages["1280"], url)
                for name, page in pages.items():
                    for view, go in phase:
                        go(page, url)
                        key = f"{view} @{name}"
                        found[key] = serious(page)
                        scroll, client = overflow(page)
                        if scroll > client:
                            too_wide[key] = (scroll, client, *widest(page))
                        if view in SHOTS or phase is TAKEN_OVER:
                            slug = "".join(c if c.isalnum() else "-" for c in view.strip("/")).strip("-")
                            shots.append(shoot(page, tmp_path, f"{slug}-{name}"))
            # The 404 pages and the form sent back with its problems (422) are logged as failed loads; nothing
            # else may be (a script error, a resource the CSP refused).
            expected = ("status of 404 (Not Found)", "status of 422 (Unprocessable Entity)")
            for name, messages in errors.items():
                assert [m for m in messages if not m.endswith(expected)] == [], (name, messages)
        finally:
            browser.close()
    failing = {key: problems for key, problems in found.items() if problems}
    assert failing == {}, json.dumps(failing, indent=1, ensure_ascii=False)
    assert too_wide == {}, too_wide
    keep(shots, "pages.txt", [
        f"{len(found)} page views at 1280 and 390 px (the login, {len(READ_ONLY)} pages with the reference event "
        f"read from its file, {len(TAKEN_OVER)} views after taking it over): no serious or critical axe-core "
        "violation; none wider than the screen at 390 px"])

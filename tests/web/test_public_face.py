"""Issue 22 in Chromium: the Russian page in Russian with the reader's own time, a card with a hostile title, the
"We are live" panel and the previews at 1280 and 390 px, the time-zone suggestions and the login form; each with
no serious axe-core violation, and screenshots in var/test-artifacts/ (listed in public-face.txt)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.images.test_scripts import HOSTILE_TITLE
from tests.web.browser import DESKTOP, PHONE, Served, keep, launch, log_in, overflow, serious, watch, widest
from tests.web.support import BEFORE_EVENT, EVENT_ID, SiteFactory

HOSTILE_ID = "hostile-title"
AXE = Path(__file__).with_name("vendor") / "axe.min.js"


@pytest.fixture
def served_with_hostile(web_env: Path, fake_telegram: object, make_site: SiteFactory) -> Iterator[Served]:
    """The app on the reference event and a copy of it whose title is every kind of character issue 22 found."""
    events = web_env / "config" / "events"
    text = (events / "russia-dprk-treaty.yaml").read_text(encoding="utf-8")
    copy = text.replace("id: russia-dprk-treaty", f"id: {HOSTILE_ID}").replace(
        "  ru: Клуб «Валдай» обсудит договор России и КНДР", f"  ru: \"{HOSTILE_TITLE}\"")
    (events / f"{HOSTILE_ID}.yaml").write_text(copy, encoding="utf-8")
    server = Served(make_site()).start()
    yield server
    server.stop()


def _labels_above_inputs(page: Page) -> list[str]:
    """The "We are live" fields whose label is not above its input, or whose input is narrower than the label's
    row (what a thumb misses)."""
    return page.evaluate("""() => {
      const bad = [];
      for (const field of document.querySelectorAll('#go-live .live-field')) {
        const label = field.querySelector('label').getBoundingClientRect();
        const input = field.querySelector('input').getBoundingClientRect();
        if (label.bottom > input.top + 1 || input.height < 40 || input.width < field.getBoundingClientRect().width - 2)
          bad.push(field.querySelector('label').textContent);
      }
      return bad;
    }""")


@pytest.mark.slow  # Chromium
def test_the_public_face_in_chromium(served_with_hostile: Served, tmp_path: Path) -> None:
    url = served_with_hostile.url
    shots: list[Path] = []
    notes: list[str] = []
    found: dict[str, list[str]] = {}

    def shoot(page: Page, name: str, selector: str | None = None) -> None:
        path = tmp_path / f"public-face-{name}.png"
        if selector:
            page.locator(selector).first.screenshot(path=str(path))
        else:
            page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for width, viewport in (("1280", DESKTOP), ("390", PHONE)):
                # A reader in New York: the page adds the start in their own time to the event's own.
                reader = browser.new_context(viewport=viewport, timezone_id="America/New_York", locale="en-US")  # type: ignore[arg-type]
                reader.add_init_script(path=str(AXE))
                page = reader.new_page()
                page.clock.install(time=BEFORE_EVENT)  # the browser's clock is the site's (two days before)
                errors = watch(page)
                page.goto(f"{url}/events/{EVENT_ID}?lang=ru")
                expect(page.locator("header .brand")).to_have_text("Международный дискуссионный клуб «Валдай»")
                mine = page.locator("[data-local-time]")
                expect(mine).to_be_visible()
                expect(mine).to_contain_text("Ваше время:")
                expect(mine).to_contain_text("America/New York")
                expect(page.locator("[data-countdown]")).to_contain_text("1 день 22:59")  # its day in Russian
                found[f"russian page @{width}"] = serious(page)
                assert overflow(page)[0] <= overflow(page)[1], widest(page)
                shoot(page, f"russian-page-{width}")
                if width == "1280":
                    notes.append("the Russian page: header, navigation and labels in Russian; 'Ваше время:' shows "
                                 f"the start in the reader's zone ({mine.inner_text().strip()})")
                # The card of the event with the hostile title, as a shared link shows it.
                if width == "1280":
                    page.goto(f"{url}/events/{HOSTILE_ID}?lang=ru")
                    card = page.locator("img.cover")
                    expect(card).to_be_visible()
                    natural = page.evaluate("() => document.querySelector('img.cover').naturalWidth")
                    assert natural == 1200
                    shoot(page, "hostile-card", "img.cover")
                    notes.append("the card of an event titled with emoji, flags, a family, a rainbow, a skin tone, "
                                 "a combining mark and an Arabic name (every cluster drawn: tests/images/"
                                 "test_scripts.py)")
                assert errors == [], errors
                reader.close()

            # Without a script the page still says when, and hides what only a script can work out.
            still = browser.new_context(viewport=DESKTOP, java_script_enabled=False, timezone_id="America/New_York")  # type: ignore[arg-type]
            page = still.new_page()
            page.goto(f"{url}/events/{EVENT_ID}?lang=ru")
            expect(page.locator("dl.facts dd").first).to_contain_text("11:00–13:00 по московскому времени")
            expect(page.locator("[data-local-time]")).to_be_hidden()
            still.close()

            for width, viewport in (("1280", DESKTOP), ("390", PHONE)):
                organiser = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
                organiser.add_init_script(path=str(AXE))
                page = organiser.new_page()
                errors = watch(page)
                page.goto(f"{url}/admin/login")
                boxes = [page.locator(f"#{name}").bounding_box() for name in ("name", "password")]
                assert boxes[0] and boxes[1] and boxes[0]["width"] == pytest.approx(boxes[1]["width"], abs=1)
                log_in(page, url)
                page.goto(f"{url}/admin/events/{EVENT_ID}")
                # "We are live": a labelled field per platform above its input, and a big button.
                assert _labels_above_inputs(page) == []
                button = page.locator("#go-live button.publish").bounding_box()
                assert button is not None and button["height"] >= 48
                shoot(page, f"we-are-live-{width}", "#go-live")
                # Every preview within the page's width: none off-screen to the right.
                client = page.evaluate("() => document.documentElement.clientWidth")
                rights = page.evaluate("() => [...document.querySelectorAll('.preview')].map("
                                       "n => n.getBoundingClientRect().right)")
                assert rights and max(rights) <= client + 1, (max(rights), client)
                platforms = page.evaluate("() => [...document.querySelectorAll('.preview-group:not(.link-cards)')][0]"
                                          ".querySelectorAll('.preview').length")
                shoot(page, f"previews-{width}", ".preview-group:not(.link-cards)")
                found[f"event page @{width}"] = serious(page)
                assert overflow(page)[0] <= overflow(page)[1], widest(page)
                notes.append(f"at {width} px: the {platforms} previews of a step all within the page "
                             f"(rightmost edge {max(rights):.0f} px of {client}); the 'We are live' labels above "
                             f"their inputs, the button {button['height']:.0f} px high; login fields one width")
                if width == "1280":
                    # The time-zone suggestions: the input names its datalist (it was escaped before).
                    page.goto(f"{url}/admin/editor/new")
                    assert page.evaluate("() => document.getElementById('in-f-timezone').list.id") == "zones"
                    assert page.evaluate("() => document.getElementById('zones').options.length") > 300
                    notes.append("the editor's time-zone field offers the IANA zones (list=\"zones\", not escaped)")
                expected = ("status of 404 (Not Found)",)
                assert [m for m in errors if not m.endswith(expected)] == [], errors
                organiser.close()
        finally:
            browser.close()
    failing = {key: problems for key, problems in found.items() if problems}
    assert failing == {}, failing
    keep(shots, "public-face.txt", notes)

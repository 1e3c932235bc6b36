"""Reading the editor's pages as a browser would: the fields a form sends, the problems shown next to a field."""

from __future__ import annotations

import html
from html.parser import HTMLParser

from bot.web.eventform import anchor


class _Fields(HTMLParser):
    """The name/value pairs a form submits (text inputs, hidden ones, text areas, checked boxes, selected options)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = given.get("id") == self.form_id
        if not self.inside:
            return
        name = given.get("name")
        if tag == "input" and name:
            kind = given.get("type", "text")
            if kind in ("submit", "button", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in given:
                return
            self.fields[name] = given.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            value = given.get("value", "")
            if self._first_option is None:
                self._first_option = value
                self.fields.setdefault(self._select, value)
            if "selected" in given:
                self.fields[self._select] = value

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            # A text area drops one newline right after its start tag, as browsers do.
            self.fields[self._textarea] = self.fields[self._textarea].removeprefix("\n")
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.fields[self._textarea] += data


def form_fields(page: str, form_id: str = "event-form") -> dict[str, str]:
    parser = _Fields(form_id)
    parser.feed(page)
    return parser.fields


def problems(page: str, slot: str) -> list[str]:
    """The problems listed next to one field."""
    start = page.index(f'id="{anchor(slot)}-errors"')
    items = page[start:page.index("</ul>", start)]
    return [html.unescape(item.split("</li>", 1)[0]) for item in items.split("<li>")[1:]]

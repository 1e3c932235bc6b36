"""The catalogs of the bot's own words (bot/i18n.py): every message the code and the web templates use is
translated in every language that has a catalog, with as many plural forms as CLDR gives that language."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, catalog_path, languages, translations

ROOT = Path(__file__).resolve().parent.parent
METHODS = [("bot/**.py", "python"), ("bot/web/templates/**.html", "jinja2")]
OPTIONS = {"bot/web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def used() -> dict[str | tuple[str, ...], str]:
    """Every message the code and the templates ask for (as `pybabel extract -F babel.cfg` finds them), by where."""
    found: dict[str | tuple[str, ...], str] = {}
    for filename, line, message, _comments, _context in extract_from_dir(ROOT, METHODS, OPTIONS):
        found.setdefault(message, f"{filename}:{line}")
    return found


def test_the_extraction_finds_the_pages_words() -> None:
    messages = used()
    assert "Speakers" in messages and "Watch the broadcast" in messages
    assert ("+%(num)d more", "+%(num)d more") in messages  # a plural


@pytest.mark.parametrize("lang", [lang for lang in languages() if lang != "en"])
def test_every_message_is_translated_in_every_language_with_its_plural_forms(lang: str) -> None:
    with catalog_path(lang).open("rb") as file:
        catalog = read_po(file, locale=lang, domain=DOMAIN)
    assert catalog.num_plurals == Catalog(locale=lang).num_plurals  # as Babel counts CLDR's forms: 3 for ru
    missing = []
    for message, where in used().items():
        entry = catalog.get(message[0] if isinstance(message, tuple) else message)
        strings = entry.string if entry is not None else ""
        forms = strings if isinstance(strings, tuple) else (strings,)
        wanted = catalog.num_plurals if isinstance(message, tuple) else 1
        if entry is None or entry.fuzzy or len(forms) != wanted or not all(forms):
            missing.append(f"{where}: {message!r}")
    assert not missing, f"not translated in {lang}: " + "; ".join(missing)


def test_the_catalog_is_read_from_its_po_file_at_run_time() -> None:
    russian = translations("ru")
    assert russian.gettext("Speakers") == "Участники"  # as the posts say, not "Спикеры"
    # CLDR's plural forms: 1 more, 2-4 more, 5 more each pick their own entry.
    assert [russian.ngettext("+%(num)d more", "+%(num)d more", n) % {"num": n} for n in (1, 3, 5)] == [
        "и ещё 1", "и ещё 3", "и ещё 5"]
    assert translations("en").gettext("Speakers") == "Speakers"
    assert translations("xx").gettext("Speakers") == "Speakers"  # no catalog: the words as written

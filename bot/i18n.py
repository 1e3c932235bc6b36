"""The words of the bot's own pages and images, per language: gettext catalogs (bot/locale/<lang>/LC_MESSAGES/
announce_bot.po) read at run time with Babel, plurals as CLDR counts them. English is the catalogs' source."""

from __future__ import annotations

import io
from functools import cache
from gettext import NullTranslations
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "announce_bot"
SOURCE = "en"  # the language the messages are written in: it needs no catalog


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def languages() -> tuple[str, ...]:
    """The languages the pages can be read in: English and every language with a catalog."""
    found = sorted(path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE, *(lang for lang in found if lang != SOURCE))


@cache
def translations(lang: str) -> NullTranslations:
    """The catalog of `lang` (English, and any language without one, as written). The .po file is compiled in
    memory once per process: no build step, so `make run` works from a checkout."""
    path = catalog_path(lang)
    if lang == SOURCE or not path.is_file():
        return NullTranslations()
    with path.open("rb") as file:
        catalog = read_po(file, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext(message: str, lang: str) -> str:
    return translations(lang).gettext(message)


def ngettext(singular: str, plural: str, n: int, lang: str) -> str:
    return translations(lang).ngettext(singular, plural, n)

"""The bot's words per language, as gettext catalogs read at run time with Babel: bot/locale/<lang>/LC_MESSAGES/
<domain>.po, the pages' and images' `announce_bot` (English messages, English being the source, which needs no
catalog) and the chat bot's `chat` (keyed messages, a catalog per language). Plurals as Babel counts CLDR's forms;
`problems` says what keeps a domain from reading the same in every language."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from functools import cache
from gettext import NullTranslations
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "announce_bot"
SOURCE = "en"  # the language the pages' messages are written in: it needs no catalog
_FIELD = re.compile(r"{(\w*)[^{}]*}")


def catalog_path(lang: str, domain: str = DOMAIN, directory: Path = LOCALE_DIR) -> Path:
    return directory / lang / "LC_MESSAGES" / f"{domain}.po"


@cache
def languages() -> tuple[str, ...]:
    """The languages the pages can be read in: English and every language with a catalog."""
    found = sorted(path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE, *(lang for lang in found if lang != SOURCE))


@cache
def catalog(domain: str, lang: str, directory: Path = LOCALE_DIR) -> Catalog:
    """The catalog of `domain` in `lang`, as its .po file says (FileNotFoundError when there is none)."""
    with catalog_path(lang, domain, directory).open("rb") as file:
        return read_po(file, locale=lang, domain=domain)


@cache
def translations(lang: str, domain: str = DOMAIN, fallback: str | None = None) -> NullTranslations:
    """The catalog of `lang` (a language without one reads the messages as written), those it lacks from
    `fallback`'s. The .po file is compiled in memory once per process: no build step, so `make run` works from a
    checkout."""
    if not catalog_path(lang, domain).is_file():
        return translations(fallback, domain) if fallback is not None and fallback != lang else NullTranslations()
    compiled = io.BytesIO()
    write_mo(compiled, catalog(domain, lang), use_fuzzy=False)
    compiled.seek(0)
    found = Translations(compiled, domain=domain)
    if fallback is not None and fallback != lang:
        found.add_fallback(translations(fallback, domain))
    return found


def gettext(message: str, lang: str) -> str:
    return translations(lang).gettext(message)


def ngettext(singular: str, plural: str, n: int, lang: str) -> str:
    return translations(lang).ngettext(singular, plural, n)


def problems(domain: str, langs: Sequence[str], directory: Path = LOCALE_DIR) -> list[str]:
    """What keeps a keyed domain (`chat`) from reading the same in every language: a message missing, empty or fuzzy
    in one, other {placeholders} than in the others, plural forms other than Babel's (CLDR's) for the language."""
    found: list[str] = []
    catalogs = {lang: catalog(domain, lang, directory) for lang in langs}
    ids = {message.id for c in catalogs.values() for message in c if message.id}
    for lang, current in catalogs.items():
        wanted = Catalog(locale=lang)
        if current.fuzzy:  # its header, and so its plural rule, would be left out
            found.append(f"{domain}/{lang}: the catalog's header is marked fuzzy")
        if current.plural_forms != wanted.plural_forms:
            found.append(f"{domain}/{lang}: Plural-Forms is {current.plural_forms!r}, not {wanted.plural_forms!r}")
        for msgid in sorted(ids, key=str):
            message, forms = current.get(msgid), _forms(current.get(msgid))
            if message is None or not forms or not forms[0] or message.fuzzy:
                found.append(f"{domain}/{lang}: {_name(msgid)!r} is missing" + (" (fuzzy)" if message and message.fuzzy
                                                                               else ""))
            elif not isinstance(msgid, str) and (len(forms) != wanted.num_plurals or not all(forms)):
                found.append(f"{domain}/{lang}: {_name(msgid)!r} has {sum(map(bool, forms))} plural forms, not "
                             f"{wanted.num_plurals}")
    for msgid in sorted(ids, key=str):
        fields = {lang: frozenset(f for form in _forms(c.get(msgid)) for f in _FIELD.findall(form))
                  for lang, c in catalogs.items() if _forms(c.get(msgid))}
        if len(set(fields.values())) > 1:
            found.append(f"{domain}: {_name(msgid)!r} has other placeholders in another language: "
                         + ", ".join(f"{lang} {sorted(names)}" for lang, names in fields.items()))
    return found


def _name(msgid: str | Sequence[str]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _forms(message: object) -> list[str]:
    string = getattr(message, "string", None)
    return [string] if isinstance(string, str) else [str(form) for form in string or ()]

"""Translations as gettext catalogs read through Babel: bot/locale/<lang>/LC_MESSAGES/<domain>.po, one domain per
front end (the chat bot's `chat`), each compiled in memory once per language; plural forms by CLDR's rules (the
catalogs' Plural-Forms), missing messages from the default language's catalog; `problems` says what a domain lacks."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Sequence
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.plural import to_gettext
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
_FIELD = re.compile(r"{(\w*)[^{}]*}")


@functools.cache
def catalog(domain: str, lang: str, directory: Path = LOCALE_DIR) -> Catalog:
    """The catalog of `domain` in `lang`, as its .po file says (FileNotFoundError when there is none)."""
    with (directory / lang / "LC_MESSAGES" / f"{domain}.po").open("rb") as source:
        return read_po(source, locale=lang, domain=domain)


@functools.cache
def translations(domain: str, lang: str, fallback: str | None = None) -> Translations:
    """`domain`'s messages in `lang` (gettext, ngettext), those it lacks from `fallback`'s."""
    compiled = io.BytesIO()
    write_mo(compiled, catalog(domain, lang))
    compiled.seek(0)
    found = Translations(compiled, domain=domain)
    if fallback is not None and fallback != lang:
        found.add_fallback(translations(domain, fallback))
    return found


def problems(domain: str, langs: Sequence[str], directory: Path = LOCALE_DIR) -> list[str]:
    """What keeps `domain` from reading the same in every language: a message missing, empty or fuzzy in one, other
    {placeholders} than in the others, plural forms other than CLDR's for the language."""
    found: list[str] = []
    catalogs = {lang: catalog(domain, lang, directory) for lang in langs}
    ids = {message.id for c in catalogs.values() for message in c if message.id}
    for lang, current in catalogs.items():
        cldr = to_gettext(Locale.parse(lang).plural_form)
        if current.fuzzy:  # its header, and so its plural rule, would be left out
            found.append(f"{domain}/{lang}: the catalog's header is marked fuzzy")
        if current.plural_forms != cldr:
            found.append(f"{domain}/{lang}: Plural-Forms is {current.plural_forms!r}, CLDR's is {cldr!r}")
        for msgid in sorted(ids, key=str):
            message, forms = current.get(msgid), _forms(current.get(msgid))
            if message is None or not forms or not forms[0] or message.fuzzy:
                found.append(f"{domain}/{lang}: {_name(msgid)!r} is missing" + (" (fuzzy)" if message and message.fuzzy
                                                                               else ""))
            elif not isinstance(msgid, str) and (len(forms) != current.num_plurals or not all(forms)):
                found.append(f"{domain}/{lang}: {_name(msgid)!r} has {sum(map(bool, forms))} plural forms, not "
                             f"{current.num_plurals}")
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

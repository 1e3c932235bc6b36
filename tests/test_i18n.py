"""The catalogs of the bot's own words (bot/i18n.py): every message the code and the web templates use is
translated in every language that has a catalog, and every message of the chat bot's catalogs (domain `chat`) is in
every language with the same placeholders (a message missing in one fails here), with as many plural forms as CLDR
gives that language."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.chat.texts import DOMAIN as CHAT
from bot.chat.texts import LANGS, tn
from bot.i18n import DOMAIN, LOCALE_DIR, catalog_path, languages, problems, translations

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


def test_the_chat_bot_s_words_are_complete_in_every_language() -> None:
    assert problems(CHAT, LANGS) == []


def test_a_message_missing_or_unlike_in_a_language_is_named(tmp_path: Path) -> None:
    shutil.copytree(LOCALE_DIR, tmp_path / "locale")
    path = tmp_path / "locale" / "ru" / "LC_MESSAGES" / "chat.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale="ru")
    catalog.delete("hint")
    catalog["stale_button"].flags.add("fuzzy")
    catalog["search_none"].string = "Ничего не нашлось."  # its {query} lost
    plural = catalog["golive_reminders"]
    plural.string = plural.string[:2]  # as many as English has: Russian has three
    with path.open("wb") as out:
        write_po(out, catalog)
    found = problems(CHAT, LANGS, tmp_path / "locale")
    assert "chat/ru: 'hint' is missing" in found
    assert "chat/ru: 'stale_button' is missing (fuzzy)" in found
    assert "chat/ru: 'golive_reminders' has 2 plural forms, not 3" in found
    assert "chat: 'search_none' has other placeholders in another language: en ['query'], ru []" in found


def test_the_chat_bot_s_plurals_by_cldr_s_rules() -> None:
    assert [tn("golive_reminders", n, "ru") for n in (1, 3, 5, 11, 21)] == [
        "Напоминание о начале трансляции получит 1 подписчик.",
        "Напоминание о начале трансляции получат 3 подписчика.",
        "Напоминание о начале трансляции получат 5 подписчиков.",
        "Напоминание о начале трансляции получат 11 подписчиков.",
        "Напоминание о начале трансляции получит 21 подписчик.",
    ]
    assert tn("golive_reminders", 1, "en") == "1 subscriber will get the live reminder."
    assert tn("golive_reminders", 2, "de") == "2 subscribers will get the live reminder."  # the default language

"""bot/i18n.py: the catalogs are complete in every language (a message missing in one fails here), plurals follow
CLDR's rules, and a language the bot does not have reads the default one."""

from __future__ import annotations

import shutil
from pathlib import Path

from babel.messages.pofile import read_po, write_po

from bot.chat.texts import DOMAIN, LANGS, tn
from bot.i18n import LOCALE_DIR, problems


def test_the_chat_bot_s_words_are_complete_in_every_language() -> None:
    assert problems(DOMAIN, LANGS) == []


def test_a_message_missing_or_unlike_in_a_language_is_named(tmp_path: Path) -> None:
    shutil.copytree(LOCALE_DIR, tmp_path / "locale")
    path = tmp_path / "locale" / "ru" / "LC_MESSAGES" / "chat.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale="ru")
    catalog.delete("hint")
    catalog["stale_button"].flags.add("fuzzy")
    catalog["search_none"].string = "Ничего не нашлось."  # its {query} lost
    plural = catalog["golive_reminders"]
    plural.string = plural.string[:3]  # Babel's old table had three forms for Russian; CLDR has four
    with path.open("wb") as out:
        write_po(out, catalog)
    found = problems(DOMAIN, LANGS, tmp_path / "locale")
    assert "chat/ru: 'hint' is missing" in found
    assert "chat/ru: 'stale_button' is missing (fuzzy)" in found
    assert "chat/ru: 'golive_reminders' has 3 plural forms, not 4" in found
    assert "chat: 'search_none' has other placeholders in another language: en ['query'], ru []" in found


def test_plurals_by_cldr_s_rules() -> None:
    assert [tn("golive_reminders", n, "ru") for n in (1, 3, 5, 11, 21)] == [
        "Напоминание о начале трансляции получит 1 подписчик.",
        "Напоминание о начале трансляции получат 3 подписчика.",
        "Напоминание о начале трансляции получат 5 подписчиков.",
        "Напоминание о начале трансляции получат 11 подписчиков.",
        "Напоминание о начале трансляции получит 21 подписчик.",
    ]
    assert tn("golive_reminders", 1, "en") == "1 subscriber will get the live reminder."
    assert tn("golive_reminders", 2, "de") == "2 subscribers will get the live reminder."  # the default language

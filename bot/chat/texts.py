"""The chat bot's words: its gettext catalogs (bot/locale/<lang>/LC_MESSAGES/chat.po, domain `chat`, read by
bot/i18n.py), each message by its key, in English and Russian, in Telegram HTML (MAX reads the same tags); values are
escaped here."""

from __future__ import annotations

import html
from gettext import NullTranslations
from typing import Final

from bot.i18n import catalog, translations

LANGS: Final = ("en", "ru")
DEFAULT_LANG: Final = "en"
LANG_NAMES: Final = {"en": "English", "ru": "Русский"}


class Raw(str):
    """A value that is already Telegram HTML: `t()` inserts it as it is."""

    __slots__ = ()


DOMAIN: Final = "chat"


def _read() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, tuple[str, ...]]]]:
    texts: dict[str, dict[str, str]] = {}
    plurals: dict[str, dict[str, tuple[str, ...]]] = {}
    for lang in LANGS:
        for message in catalog(DOMAIN, lang):
            if not message.id:
                continue  # the header
            if isinstance(message.id, str):
                texts.setdefault(message.id, {})[lang] = str(message.string)
            else:
                plurals.setdefault(message.id[0], {})[lang] = tuple(message.string or ())
    return texts, plurals


# Every message as the catalogs have it, by key and language (what the tests check: each in every language, with
# the same placeholders); a plural message's forms in the order of CLDR's categories for the language.
TEXTS, PLURALS = _read()


def _words(lang: str) -> NullTranslations:
    return translations(lang if lang in LANGS else DEFAULT_LANG, DOMAIN, DEFAULT_LANG)


def command_description(command: str, lang: str) -> str:
    """A command's line in the messenger's command menu."""
    return t(f"command_{command}", lang)


def t(key: str, lang: str, /, **values: object) -> str:
    """The text `key` in `lang` (English if missing) with `values` HTML-escaped, except `Raw` ones."""
    if key not in TEXTS:
        raise KeyError(f"no message {key!r} in the chat catalogs")
    return _filled(_words(lang).gettext(key), values)


def tn(key: str, count: int, lang: str, /, **values: object) -> str:
    """The text `key` in `lang` in the plural form for `count` (CLDR's rule for the language), `count` included in
    its values."""
    if key not in PLURALS:
        raise KeyError(f"no plural message {key!r} in the chat catalogs")
    return _filled(_words(lang).ngettext(key, key, count), {"count": count, **values})


def _filled(template: str, values: dict[str, object]) -> str:
    if not values:
        return template
    return template.format(**{k: v if isinstance(v, Raw) else esc(v) for k, v in values.items()})


def greeting(lang: str, name: str, org: str | None) -> str:
    """The /start text; `org` is the organisation's name from settings (`[organisation] name`), if given."""
    if org is None:
        return t("start_anonymous", lang, name=name, help=Raw(t("help", lang)))
    return t("start", lang, name=name, org=org, help=Raw(t("help", lang)))


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def lang_of(code: str | None) -> str:
    """A supported language for a Telegram `language_code` ("ru-RU" -> "ru", anything else -> English)."""
    base = (code or "").split("-")[0].lower()
    return base if base in LANGS else DEFAULT_LANG

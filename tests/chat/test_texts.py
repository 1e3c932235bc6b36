"""bot.chat.texts: the greeting names the organisation from settings, in each language, or nobody."""

from __future__ import annotations

from bot.chat.texts import TEXTS, greeting, t
from bot.config.settings import Settings


def test_the_greeting_names_the_organisation_from_settings() -> None:
    settings = Settings.model_validate(
        {"organisation": {"name": {"en": "the Urban Forum", "ru": "Городской форум"}}}
    )
    org = settings.organisation
    english = greeting("en", "Anna", org.name_in("en"))
    assert english.startswith("Hello, Anna! I announce the events of the Urban Forum.")
    assert greeting("ru", "Иван", org.name_in("ru")).startswith(
        "Здравствуйте, Иван! Я рассказываю о мероприятиях, которые проводит Городской форум."
    )
    assert "/events" in greeting("en", "Anna", org.name_in("en"))


def test_without_a_name_in_that_language_the_greeting_names_nobody() -> None:
    settings = Settings.model_validate({"organisation": {"name": {"en": "the Urban Forum"}}})
    text = greeting("ru", "Иван", settings.organisation.name_in("ru"))
    assert text.startswith("Здравствуйте, Иван! Я рассказываю о ближайших мероприятиях.")
    assert "Urban" not in text
    assert greeting("en", "Anna", Settings().organisation.name_in("en")).startswith(
        "Hello, Anna! I announce upcoming events."
    )


def test_no_text_names_a_particular_organisation() -> None:
    # The greeting once hard-coded "the Valdai Discussion Club" for every deployment.
    for forms in TEXTS.values():
        for text in forms.values():
            assert "Valdai" not in text and "Валдай" not in text


def test_the_name_is_escaped_as_telegram_html() -> None:
    assert "R&amp;D &lt;Lab&gt;" in greeting("en", "Anna", "R&D <Lab>")


def test_counts_stand_after_a_label_so_no_plural_is_wrong() -> None:
    assert t("reload_done", "en", events=1, changed=1, errors=1) == (
        "Config re-read. Events: 1 (1 changed); file errors: 1."
    )
    assert t("reload_done", "ru", events=21, changed=0, errors=1).startswith("Настройки перечитаны: мероприятий 21")

"""Every string the chat bot shows people, in English and Russian, in Telegram HTML; values are escaped here."""
# ruff: noqa: E501 - one line per text reads better than wrapped strings

from __future__ import annotations

import html
from typing import Final

LANGS: Final = ("en", "ru")
DEFAULT_LANG: Final = "en"
LANG_NAMES: Final = {"en": "English", "ru": "Русский"}


class Raw(str):
    """A value that is already Telegram HTML: `t()` inserts it as it is."""

    __slots__ = ()


TEXTS: Final[dict[str, dict[str, str]]] = {
    # -- start, help, language ----------------------------------------------------------------------
    "start": {
        "en": "Hello, {name}! I announce the events of {org}.\n\n{help}\n\nLanguage: /lang",
        "ru": "Здравствуйте, {name}! Я рассказываю о мероприятиях, которые проводит {org}.\n\n{help}\n\nЯзык: /lang",
    },
    "start_anonymous": {
        "en": "Hello, {name}! I announce upcoming events.\n\n{help}\n\nLanguage: /lang",
        "ru": "Здравствуйте, {name}! Я рассказываю о ближайших мероприятиях.\n\n{help}\n\nЯзык: /lang",
    },
    "help": {
        "en": ("<b>What I can do</b>\n"
               "/events — upcoming events\n"
               "/next — the next event in full\n"
               "/event &lt;id&gt; — one event\n"
               "/live — where to watch the event that is on now or next\n"
               "/speakers [event] — who speaks\n"
               "/search &lt;words&gt; — find events by title, speaker or affiliation\n"
               "/subscribe [event] — reminders by direct message (all events, or one)\n"
               "/unsubscribe [event] — stop reminders\n"
               "/mysubs — your reminders\n"
               "/lang — language\n"
               "/help — this list"),
        "ru": ("<b>Что я умею</b>\n"
               "/events — ближайшие мероприятия\n"
               "/next — следующее мероприятие подробно\n"
               "/event &lt;id&gt; — одно мероприятие\n"
               "/live — где смотреть текущее или ближайшее мероприятие\n"
               "/speakers [мероприятие] — кто выступает\n"
               "/search &lt;слова&gt; — поиск по названию, спикеру или организации\n"
               "/subscribe [мероприятие] — напоминания в личные сообщения (обо всех или об одном)\n"
               "/unsubscribe [мероприятие] — отписаться от напоминаний\n"
               "/mysubs — ваши напоминания\n"
               "/lang — язык\n"
               "/help — этот список"),
    },
    "choose_lang": {"en": "Choose a language:", "ru": "Выберите язык:"},
    "lang_set": {"en": "I will write in English.", "ru": "Буду писать по-русски."},
    "friend": {"en": "friend", "ru": "друг"},
    # -- odd input ----------------------------------------------------------------------------------
    "hint": {"en": "I did not understand that. /help lists what I can do.",
             "ru": "Я не понял. /help — список того, что я умею."},
    "unknown_command": {"en": "I do not know that command. /help lists mine.",
                        "ru": "Такой команды я не знаю. /help — список команд."},
    "stale_button": {"en": "This button no longer works: try /events.",
                     "ru": "Эта кнопка больше не работает: попробуйте /events."},
    "slow_down": {"en": "Too many messages: please wait a few seconds.",
                  "ru": "Слишком много сообщений: подождите несколько секунд."},
    "edited": {"en": "I answer new messages only: please send the command again.",
               "ru": "Я отвечаю только на новые сообщения: отправьте команду ещё раз."},
    # -- events -------------------------------------------------------------------------------------
    "no_events": {"en": "No upcoming events yet.", "ru": "Ближайших мероприятий пока нет."},
    "events_page": {"en": "<b>Upcoming events</b> ({page} of {pages})", "ru": "<b>Ближайшие мероприятия</b> ({page} из {pages})"},
    "event_usage": {"en": "Which event? /events lists them; then /event &lt;id&gt;.",
                    "ru": "Какое мероприятие? Список — /events, затем /event &lt;id&gt;."},
    "event_not_found": {"en": "I know no event “{id}”. /events lists them.",
                        "ru": "Мероприятия «{id}» я не знаю. Список — /events."},
    "when": {"en": "When", "ru": "Когда"},
    "when_format": {"en": "{weekday}, {date}, {year}, {time} {tz}", "ru": "{weekday}, {date} {year} г., {time} {tz}"},
    "list_when": {"en": "{date}, {year}, {time} ({gmt})", "ru": "{date} {year}, {time} ({gmt})"},
    "where": {"en": "Where", "ru": "Где"},
    "speakers": {"en": "Speakers", "ru": "Спикеры"},
    "moderator": {"en": "Moderator", "ru": "Модератор"},
    "languages": {"en": "Languages", "ru": "Языки"},
    "accreditation": {"en": "Accreditation", "ru": "Аккредитация"},
    "accreditation_form": {"en": "form", "ru": "форма"},
    "live_links": {"en": "Live broadcast", "ru": "Прямая трансляция"},
    "status_cancelled": {"en": "⚠️ Cancelled", "ru": "⚠️ Отменено"},
    "status_postponed": {"en": "⚠️ Postponed", "ru": "⚠️ Перенесено"},
    "more": {"en": "More", "ru": "Подробнее"},
    "id_line": {"en": "id: <code>{id}</code>", "ru": "id: <code>{id}</code>"},
    # -- buttons ------------------------------------------------------------------------------------
    "btn_speakers": {"en": "🎤 Speakers", "ru": "🎤 Спикеры"},
    "btn_live": {"en": "📺 Live links", "ru": "📺 Трансляция"},
    "btn_calendar": {"en": "📅 Add to calendar", "ru": "📅 В календарь"},
    "btn_remind": {"en": "🔔 Remind me", "ru": "🔔 Напомнить"},
    "btn_unremind": {"en": "🔕 Stop reminding", "ru": "🔕 Не напоминать"},
    "btn_back": {"en": "« Event", "ru": "« Мероприятие"},
    "btn_prev": {"en": "‹ Earlier", "ru": "‹ Раньше"},
    "btn_next": {"en": "Later ›", "ru": "Позже ›"},
    "btn_all": {"en": "🔔 Remind me of all events", "ru": "🔔 Напоминать обо всех"},
    # -- live, speakers, search ---------------------------------------------------------------------
    "live_now": {"en": "🔴 <b>Live now:</b> {title}", "ru": "🔴 <b>Сейчас в эфире:</b> {title}"},
    "live_next": {"en": "<b>Next broadcast:</b> {title}\n{when}", "ru": "<b>Следующая трансляция:</b> {title}\n{when}"},
    "live_none": {"en": "No broadcast links for this event yet.", "ru": "Ссылок на трансляцию пока нет."},
    "speakers_of": {"en": "<b>Speakers</b> — {title}", "ru": "<b>Спикеры</b> — {title}"},
    "no_speakers": {"en": "The speakers are not announced yet.", "ru": "Спикеры пока не объявлены."},
    "search_usage": {"en": "What should I look for? /search &lt;words&gt;, e.g. /search Korea",
                     "ru": "Что искать? /search &lt;слова&gt;, например /search Корея"},
    "search_none": {"en": "Nothing found for “{query}”.", "ru": "По запросу «{query}» ничего не нашлось."},
    "search_found": {"en": "<b>Found</b> for “{query}”:", "ru": "<b>Нашлось</b> по запросу «{query}»:"},
    # -- subscriptions ------------------------------------------------------------------------------
    "subscribed_all": {"en": "Done: I will remind you of every event by direct message.",
                       "ru": "Готово: буду напоминать обо всех мероприятиях в личных сообщениях."},
    "subscribed_one": {"en": "Done: I will remind you of “{title}”.", "ru": "Готово: напомню о «{title}»."},
    "already_all": {"en": "You already get reminders of every event.", "ru": "Вы уже получаете напоминания обо всех мероприятиях."},
    "already_one": {"en": "You are already subscribed to “{title}”.", "ru": "Вы уже подписаны на «{title}»."},
    "unsubscribed_all": {"en": "Done: no more reminders.", "ru": "Готово: напоминаний больше не будет."},
    "unsubscribed_one": {"en": "Done: no reminders of “{title}”.", "ru": "Готово: о «{title}» напоминать не буду."},
    "not_subscribed": {"en": "You had no reminders to stop.", "ru": "Напоминаний и так не было."},
    "mysubs_none": {"en": "You get no reminders. /subscribe turns them on.", "ru": "Напоминаний нет. Включить — /subscribe."},
    "mysubs_all": {"en": "You get reminders of <b>every event</b>.", "ru": "Вы получаете напоминания <b>обо всех мероприятиях</b>."},
    "mysubs_events": {"en": "Your reminders:", "ru": "Ваши напоминания:"},
    "offer_subscribe": {"en": "Want a reminder before it starts?", "ru": "Напомнить перед началом?"},
    "subscribe_private": {"en": "Reminders come by direct message: write to me in private, @{bot}.",
                          "ru": "Напоминания приходят в личные сообщения: напишите мне, @{bot}."},
    # -- calendar -----------------------------------------------------------------------------------
    "calendar_caption": {"en": "{title}: open the file to add it to your calendar.",
                         "ru": "{title}: откройте файл, чтобы добавить мероприятие в календарь."},
    "calendar_watch": {"en": "Watch live", "ru": "Трансляция"},
    # -- personal reminders -------------------------------------------------------------------------
    "reminder": {"en": "🔔 <b>Reminder:</b> {title} starts {until}.\n{when}\n{venue}",
                 "ru": "🔔 <b>Напоминание:</b> «{title}» начнётся {until}.\n{when}\n{venue}"},
    "changed_moved": {"en": "❗ <b>Changed:</b> {title}. Now:", "ru": "❗ <b>Изменение:</b> «{title}». Теперь:"},
    "changed_cancelled": {"en": "❗ <b>Cancelled:</b> {title}. We are sorry: the event will not take place.",
                          "ru": "❗ <b>Отменено:</b> «{title}». К сожалению, мероприятие не состоится."},
    "changed_postponed": {"en": "❗ <b>Postponed:</b> {title}. We will announce the new date.",
                          "ru": "❗ <b>Перенесено:</b> «{title}». О новой дате мы сообщим."},
    "reminder_live": {"en": "🔴 <b>Live now:</b> {title}", "ru": "🔴 <b>Начинается трансляция:</b> «{title}»"},
    "reminder_footer": {"en": "Stop reminders: /unsubscribe", "ru": "Отписаться: /unsubscribe"},
    # -- admin --------------------------------------------------------------------------------------
    "admin_only": {"en": "Sorry, this command is for the organisers only.",
                   "ru": "Извините, эта команда только для организаторов."},
    "admin_status": {"en": "<b>Next posts</b>\n{next}\n\n<b>Recent failures</b>\n{failures}\n\n<b>Reminders</b>\n{reminders}",
                     "ru": "<b>Ближайшие публикации</b>\n{next}\n\n<b>Последние сбои</b>\n{failures}\n\n<b>Напоминания</b>\n{reminders}"},
    "nothing": {"en": "—", "ru": "—"},
    "post_usage": {"en": "Usage: /post &lt;event&gt; &lt;kind&gt; [again] (kinds: {kinds})",
                   "ru": "Формат: /post &lt;мероприятие&gt; &lt;вид&gt; (виды: {kinds})"},
    "post_done": {"en": "Published {kind} of {id}:\n{results}", "ru": "Опубликовано ({kind}, {id}):\n{results}"},
    "post_none": {"en": "No target publishes {kind} posts.", "ru": "Ни одна площадка не публикует «{kind}»."},
    "golive_usage": {"en": "Usage: /golive &lt;event&gt; &lt;stream URL&gt; … (or PLATFORM=URL: telegram, vk, x, dzen, "
                            "website)",
                     "ru": "Формат: /golive &lt;мероприятие&gt; &lt;ссылка на трансляцию&gt; … (или ПЛОЩАДКА=ссылка: "
                           "telegram, vk, x, dzen, website)"},
    "golive_reminders": {"en": "{count} subscribers will get the live reminder.",
                         "ru": "Напоминание о начале трансляции получат подписчики: {count}."},
    "retry_usage": {"en": "Usage: /retry &lt;post number&gt; (see /status)", "ru": "Формат: /retry &lt;номер публикации&gt; (см. /status)"},
    "retry_missing": {"en": "No planned post #{id}.", "ru": "Публикации №{id} нет."},
    "retry_refused": {"en": "Post #{id} was not retried: {reason}", "ru": "Публикация №{id} не повторена: {reason}"},
    "retry_done": {"en": "Post #{id} ({event} {step} on {target}) will be sent again now.",
                   "ru": "Публикация №{id} ({event} {step}, {target}) будет отправлена снова."},
    # Counts after a label ("Events: 1"), so that no number needs a plural form ("1 events").
    "reload_done": {"en": "Config re-read. Events: {events} ({changed} changed); file errors: {errors}.",
                    "ru": "Настройки перечитаны: мероприятий {events} (изменено {changed}), ошибок в файлах {errors}."},
    "reload_failed": {"en": "The config has errors, nothing changed:\n{error}", "ru": "В настройках ошибки, ничего не изменено:\n{error}"},
    "stats": {"en": "<b>People</b>: {people} ({inactive} blocked the bot)\n<b>Subscribed</b>: {subscribed}\n{langs}",
              "ru": "<b>Людей</b>: {people} (заблокировали бота: {inactive})\n<b>Подписаны</b>: {subscribed}\n{langs}"},
}


COMMAND_DESCRIPTIONS: Final[dict[str, dict[str, str]]] = {  # the command menus
    "en": {"start": "Start", "events": "Upcoming events", "next": "The next event", "live": "Where to watch",
           "speakers": "Who speaks", "search": "Find events", "subscribe": "Reminders on",
           "unsubscribe": "Reminders off", "mysubs": "My reminders", "lang": "Language", "help": "Help"},
    "ru": {"start": "Начало", "events": "Ближайшие мероприятия", "next": "Следующее мероприятие",
           "live": "Где смотреть", "speakers": "Кто выступает", "search": "Поиск", "subscribe": "Включить напоминания",
           "unsubscribe": "Выключить напоминания", "mysubs": "Мои напоминания", "lang": "Язык", "help": "Помощь"},
}


def command_description(command: str, lang: str) -> str:
    """A command's line in the messenger's command menu."""
    return COMMAND_DESCRIPTIONS.get(lang, COMMAND_DESCRIPTIONS[DEFAULT_LANG])[command]


def t(key: str, lang: str, /, **values: object) -> str:
    """The text `key` in `lang` (English if missing) with `values` HTML-escaped, except `Raw` ones."""
    forms = TEXTS[key]
    template = forms.get(lang) or forms[DEFAULT_LANG]
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

"""/lang and its buttons: the language a person (or a group) reads the bot in."""

from __future__ import annotations

from bot.chat.callbacks import Language
from bot.chat.core import Button, Incoming, Keyboard, Replies, Routes, Services, keyboard
from bot.chat.texts import LANG_NAMES, LANGS, t


def lang_keyboard(current: str) -> Keyboard:
    return keyboard([Button(text=("✓ " if code == current else "") + LANG_NAMES[code], data=Language(code))
                     for code in LANGS])


class Lang:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def ask(self, msg: Incoming, out: Replies) -> None:
        code = (msg.args or ("",))[0].lower()
        if code in LANGS:
            await self._set(msg, out, code)
            return
        lang = await self.services.lang(msg)
        await out.send(t("choose_lang", lang), lang_keyboard(lang))

    async def pressed(self, msg: Incoming, out: Replies) -> None:
        chosen = Language.unpack(msg.data)
        if chosen is None or chosen.code not in LANGS:
            await out.answer(t("stale_button", await self.services.lang(msg)))
            return
        await out.answer()
        await self._set(msg, out, chosen.code, edit=True)

    async def _set(self, msg: Incoming, out: Replies, code: str, *, edit: bool = False) -> None:
        services = self.services
        if msg.owner is not None and msg.chat_id is not None:
            await services.subscribers.choose_language(services.messenger, msg.owner, msg.chat_id, code)
        if edit:
            await out.edit(t("lang_set", code), lang_keyboard(code))
        else:
            await out.send(t("lang_set", code))


def routes(services: Services) -> Routes:
    feature = Lang(services)
    return Routes(commands={"lang": feature.ask}, buttons={Language: feature.pressed})

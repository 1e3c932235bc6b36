"""What a button says when pressed, as small typed payloads: each packs itself to a short string, unpacks one, and
gives the pattern that routes a press to its handler (as aiogram's CallbackData does), on Telegram and MAX alike."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar, Self, get_type_hints

SEPARATOR = ":"
MAX_BYTES = 64  # Telegram's limit for callback_data (MAX allows 1,024): every payload fits both
_FIELD = {str: r"[^:]*", int: r"\d{1,12}"}


class CallbackData:
    """A button's payload: `prefix`, then each field of the dataclass in order, joined by ':' ("sp:some-event").

    A subclass is a frozen dataclass declared with its prefix: `class Page(CallbackData, prefix="pg")`, whose
    fields are `str` (without ':') or `int`."""

    prefix: ClassVar[str]
    _types: ClassVar[dict[str, type]]
    _pattern: ClassVar[re.Pattern[str]]

    def __init_subclass__(cls, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.prefix = prefix

    @classmethod
    def _fields(cls) -> dict[str, type]:
        if "_types" not in cls.__dict__:  # the field types, resolved once (annotations are strings here)
            hints = get_type_hints(cls)
            cls._types = {f.name: hints[f.name] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
            unknown = {name: kind for name, kind in cls._types.items() if kind not in _FIELD}
            if unknown:
                raise TypeError(f"{cls.__name__}: fields must be str or int, not {unknown}")
            parts = [re.escape(cls.prefix), *(_FIELD[kind] for kind in cls._types.values())]
            cls._pattern = re.compile("^" + SEPARATOR.join(f"({p})" if i else p for i, p in enumerate(parts)) + "$")
        return cls._types

    @classmethod
    def pattern(cls) -> re.Pattern[str]:
        """What every payload of this kind looks like (a press that matches none gets 'this button no longer
        works')."""
        cls._fields()
        return cls._pattern

    def pack(self) -> str:
        values = [str(getattr(self, name)) for name in self._fields()]
        if any(SEPARATOR in value for value in values):
            raise ValueError(f"{type(self).__name__}: a value holds {SEPARATOR!r}: {values}")
        packed = SEPARATOR.join([self.prefix, *values])
        if len(packed.encode()) > MAX_BYTES:
            raise ValueError(f"{type(self).__name__}: {packed!r} is longer than {MAX_BYTES} bytes")
        return packed

    @classmethod
    def unpack(cls, data: str | None) -> Self | None:
        """The payload `data` stands for, or None when it is not one of this kind."""
        match = cls.pattern().match(data or "")
        if match is None:
            return None
        values = [kind(value) for kind, value in zip(cls._fields().values(), match.groups(), strict=True)]
        return cls(*values)


@dataclasses.dataclass(frozen=True)
class EventCard(CallbackData, prefix="ev"):
    event: str  # the event's key (Services.key): its id, or a short stand-in for a long one


@dataclasses.dataclass(frozen=True)
class Speakers(CallbackData, prefix="sp"):
    event: str


@dataclasses.dataclass(frozen=True)
class LiveLinks(CallbackData, prefix="lv"):
    event: str


@dataclasses.dataclass(frozen=True)
class Calendar(CallbackData, prefix="ics"):
    event: str


@dataclasses.dataclass(frozen=True)
class Remind(CallbackData, prefix="sub"):
    event: str


@dataclasses.dataclass(frozen=True)
class StopReminding(CallbackData, prefix="uns"):
    event: str


@dataclasses.dataclass(frozen=True)
class RemindAll(CallbackData, prefix="suball"):
    pass


@dataclasses.dataclass(frozen=True)
class Page(CallbackData, prefix="pg"):
    number: int  # of the list of upcoming events, from 0


@dataclasses.dataclass(frozen=True)
class Language(CallbackData, prefix="lang"):
    code: str


@dataclasses.dataclass(frozen=True)
class Approve(CallbackData, prefix="apv"):
    post: int


@dataclasses.dataclass(frozen=True)
class Skip(CallbackData, prefix="apx"):
    post: int

"""Reads the config folder once, at the edge: settings, campaign and event files, with precise errors."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.config.settings import ENV_PREFIX, SECRET_KEYS, Settings
from bot.domain import SLUG, Campaign, Event, Platform
from bot.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
_PLATFORMS = frozenset(platform.value for platform in Platform)


@dataclass(frozen=True, kw_only=True)
class AppConfig:
    """Everything read from a config folder; built once by the CLI and passed in."""

    config_dir: Path
    settings: Settings
    campaign: Campaign
    templates_dir: Path

    @property
    def events_dir(self) -> Path:
        return self.config_dir / "events"


@dataclass(kw_only=True)
class EventFiles:
    """The events read from `events/`, and what was wrong with the files that could not be read.

    `broken` holds every file that could not be read (so that the event it defined is kept as stored, not
    withdrawn), `conflicts` the ids that two or more files claim (neither file's version is used).
    """

    events: dict[str, Event] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)
    broken: set[Path] = field(default_factory=set)
    conflicts: dict[str, list[Path]] = field(default_factory=dict)


def where(loc: Iterable[int | str]) -> str:
    """A location as a reader writes it: `speakers[1].link`."""
    text = ""
    for key in loc:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "(top level)"


def _line(node: yaml.Node | None, loc: Iterable[int | str]) -> int | None:
    """The line in the YAML file where the value at `loc` is (or its nearest parent)."""
    if node is None:
        return None
    for key in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            child = node.value[key]
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


# Union members and validator wrappers add loc parts that mean nothing to a reader.
_NOISE = frozenset({"function-after", "function-before", "str", "dict[str,str]", "tagged-union", "constrained-str"})
# The patterns of bot/domain.py in words: "String should match pattern '^[a-z]{2,3}$'" tells an organiser little.
_PATTERNS = {
    rf"^{SLUG}$": "use 1-80 lower-case letters, digits and hyphens, starting with a letter or digit "
                  "(e.g. spring-forum-2025)",
    r"^[a-z]{2,3}$": "a language is a code of 2 or 3 lower-case letters (en, ru)",
    r"^\w{1,100}$": "a hashtag is letters, digits and _ only, without spaces or punctuation",
    r"^[a-z0-9_-]{1,32}$": "a channel's name is 1-32 lower-case letters, digits, _ or -",
    r"^\+?[0-9 ()-]{5,20}$": "a phone number is 5-20 digits, spaces, brackets or hyphens, with + first if any",
}


def readable(exc: ValidationError) -> list[tuple[tuple[int | str, ...], str]]:
    """Each error of `exc` as (where, what): the location without pydantic's union and wrapper parts, and the
    message without its "Value error, " prefix. The YAML loader and the dashboard's event editor word errors so."""
    found = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [part for part in error["loc"] if not (isinstance(part, str) and ("[" in part or part in _NOISE))]
        # A target's platform is the tag of a union; pydantic repeats it after the target's name.
        if len(loc) > 2 and loc[0] == "targets" and loc[2] in _PLATFORMS:
            del loc[2]
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):  # not pydantic's repr of the enum
            given = error.get("ctx", {}).get("tag")
            known = ", ".join(platform.value for platform in Platform)
            message = (f"unknown platform {given!r}" if given else "platform is missing") + f" (use one of: {known})"
        if error["type"] == "string_pattern_mismatch":
            message = _PATTERNS.get(str((error.get("ctx") or {}).get("pattern")), message)
        found.append((tuple(loc), message))
    return found


def _problems(exc: ValidationError, node: yaml.Node | None = None, prefix: str = "") -> list[str]:
    problems = []
    for loc, message in readable(exc):
        line = _line(node, loc)
        at = f"line {line}, " if line else ""
        problems.append(f"{at}{prefix}{where(loc)}: {message}")
    return problems


# libyaml's parser when PyYAML was built with it (~10x faster than the pure-Python one); the same nodes and marks.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    return parse_yaml(path, _read(path))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None


def parse_yaml(path: Path, raw: bytes) -> tuple[Any, yaml.Node | None]:
    """The data of `raw` (the bytes of `path`) and its node tree (for the line of a field), parsed once."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(str(path), [
            f"line {line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8"
        ]) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), [f"{at}not valid YAML: {problem}"]) from None
    finally:
        loader.dispose()


def parse_model(model: type[M], data: Any, source: Path, node: yaml.Node | None = None) -> M:
    if not isinstance(data, Mapping):
        raise ConfigError(str(source), ["expected a mapping of fields at the top level"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(source), _problems(exc, node)) from None


def load_event(path: Path) -> Event:
    data, node = read_yaml(path)
    return _event(path, data, node)


def _event(path: Path, data: Any, node: yaml.Node | None) -> Event:
    if isinstance(data, dict):
        data.setdefault("id", path.stem)
    return parse_model(Event, data, path, node)


class EventFileCache:
    """What each event file held when last read: a re-read parses and validates only the files whose bytes
    changed (a running bot re-reads the folder every few seconds; with a thousand files that was ~20 s of
    CPU each time). Reading the bytes is cheap; comparing them, not a timestamp, misses no edit."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[bytes, Event | list[str]]] = {}

    def load(self, path: Path) -> Event:
        try:
            raw = _read(path)
        except ConfigError:
            self._seen.pop(path, None)
            raise
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        seen = self._seen.get(path)
        if seen is None or seen[0] != digest:
            try:
                data, node = parse_yaml(path, raw)
                result: Event | list[str] = _event(path, data, node)
            except ConfigError as exc:
                result = exc.problems
            seen = self._seen[path] = (digest, result)
        if isinstance(seen[1], Event):
            return seen[1]
        raise ConfigError(str(path), list(seen[1]))

    def keep_only(self, paths: Iterable[Path]) -> None:
        """Forget the files that are gone."""
        present = set(paths)
        for path in [p for p in self._seen if p not in present]:
            del self._seen[path]


def load_events(events_dir: Path, cache: EventFileCache | None = None) -> EventFiles:
    """Read every `*.yaml` in `events_dir`; a bad file is reported and left out, never half-read.

    Two files that define the same id are both left out, with an error naming both: neither may silently
    replace the other (or the event already stored).
    """
    result = EventFiles()
    found: dict[str, list[tuple[Path, Event]]] = {}
    paths = sorted([*events_dir.glob("*.yaml"), *events_dir.glob("*.yml")])
    if cache is not None:
        cache.keep_only(paths)
    for path in paths:
        try:
            event = cache.load(path) if cache is not None else load_event(path)
        except ConfigError as exc:
            result.errors.append(exc)
            result.broken.add(path)
            continue
        found.setdefault(event.id, []).append((path, event))
    for event_id, versions in found.items():
        if len(versions) > 1:
            paths = [path for path, _ in versions]
            result.conflicts[event_id] = paths
            result.errors.append(ConfigError(", ".join(map(str, paths)), [
                f"id: {event_id!r} is defined by {len(paths)} files; none of them is used until only one is left"
            ]))
            continue
        path, event = versions[0]
        result.events[event_id] = event
        result.sources[event_id] = path
    return result


def _secrets_in_file(data: Mapping[str, Any], path: list[str]) -> list[str]:
    found = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            found += _secrets_in_file(value, [*path, key])
        elif key in SECRET_KEYS:
            env = ENV_PREFIX + "__".join([*path, key]).upper()
            found.append(
                f"{'.'.join([*path, key])}: secrets must not be written in settings; "
                f"set {env} in the environment or point {key}_file at a file"
            )
    return found


def load_settings(config_dir: Path) -> Settings:
    path = config_dir / "settings.toml"
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    if problems := _secrets_in_file(data, []):
        raise ConfigError(str(path), problems)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(f"{path} (or {ENV_PREFIX}* variables)", _problems(exc)) from None


def load_campaign(config_dir: Path) -> Campaign:
    path = config_dir / "campaign.yaml"
    data, node = read_yaml(path)
    return parse_model(Campaign, data, path, node)


def load_config(config_dir: Path) -> AppConfig:
    """Read settings and campaign; check that every platform the campaign uses has a target."""
    config_dir = config_dir.resolve()
    if not config_dir.is_dir():
        raise ConfigError(str(config_dir), ["no such config folder"])
    settings = load_settings(config_dir)
    campaign = load_campaign(config_dir)
    problems = []
    for index, step in enumerate(campaign.steps):
        for platform in campaign.platforms_of(step):
            if not settings.targets_of(platform):
                problems.append(
                    f"steps[{index}] ({step.id}): platform {platform.value!r} has no enabled target in settings.toml"
                )
    if problems:
        raise ConfigError(str(config_dir / "campaign.yaml"), sorted(set(problems)))
    feeds: dict[Path, str] = {}
    for name, target in settings.targets_of(Platform.DZEN).items():
        path = target.feed_path.resolve()
        if path in feeds:
            # Items are keyed by event and kind only, so two targets in one file would overwrite each other.
            raise ConfigError(str(config_dir / "settings.toml"),
                              [f"targets.{name}.feed_path: the same file as targets.{feeds[path]}"])
        feeds[path] = name
    templates = settings.templates_dir or next(
        (p for p in (config_dir.parent / "templates", config_dir / "templates") if p.is_dir()),
        config_dir.parent / "templates",
    )
    return AppConfig(config_dir=config_dir, settings=settings, campaign=campaign, templates_dir=templates)

"""The README's module map names every module of the bot, so that a newcomer finds each one's job there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_map() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```\nbot/\n")
    return readme[start:readme.index("```", start + 3)]


def test_every_module_of_the_bot_is_in_the_readme_s_module_map() -> None:
    text = module_map()
    modules = [path for path in (ROOT / "bot").rglob("*.py")
               if "migrations" not in path.parts and path.name != "__init__.py"]
    assert len(modules) > 50
    missing = [str(path.relative_to(ROOT)) for path in modules
               if not re.search(rf"(?<![\w.]){re.escape(path.stem)}(\.py)?\b", text)]
    assert not missing, f"not in README.md's module map: {missing}"

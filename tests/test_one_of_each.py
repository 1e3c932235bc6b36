"""One of each thing (issue 20): what drifted when it was written twice is now written once; each test fails if a
copy comes back with its own idea."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from bot.clock import utc_text
from bot.config.loader import _PATTERNS
from bot.domain import SLUG, Event
from bot.platforms import SPECS, TELEGRAM, VK, X
from bot.streams import parse_links
from bot.web.covers import SLUG_PATTERN


def test_the_caption_rule_is_the_platforms_own() -> None:
    assert TELEGRAM.part_limit(0, image=True) == 1024  # a photo's caption
    assert TELEGRAM.part_limit(1, image=True) == TELEGRAM.part_limit(0, image=False) == 4096
    assert VK.part_limit(0, image=True) == VK.max_length and X.part_limit(0, image=True) == 280
    assert all(spec.part_limit(0, image=True) <= spec.max_length for spec in SPECS.values())


def test_one_way_to_write_a_moment_in_utc() -> None:
    moscow = timezone(timedelta(hours=3))
    assert utc_text(datetime(2024, 11, 27, 11, 0, tzinfo=moscow)) == "2024-11-27 08:00 UTC"
    assert utc_text(datetime(2024, 11, 27, 8, 0, tzinfo=UTC)) == "2024-11-27 08:00 UTC"


def test_one_event_id_pattern_for_the_model_the_files_and_the_uploads() -> None:
    pattern = Event.model_fields["id"].metadata[0].pattern
    assert pattern == f"^{SLUG}$" and pattern in _PATTERNS and SLUG_PATTERN.pattern == pattern
    for good in ("spring-forum", "a", "2025-forum"):
        assert re.fullmatch(SLUG, good)
    for bad in ("Spring", "-forum", "forum_2025", "x" * 81, "spring forum"):
        assert not re.fullmatch(SLUG, bad)


def test_one_link_parser_keeps_a_query_string() -> None:
    assert parse_links(["https://vkvideo.ru/video-1_2?list=ab"]) == {"vk": "https://vkvideo.ru/video-1_2?list=ab"}

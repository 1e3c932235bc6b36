"""The fake Telegram's own reading of HTML parse mode (tests/fakes/telegram_html.py): Telegram's documented
examples, and agreement with the bot's renderer on every real post (two independent readings of one set of rules)."""

from __future__ import annotations

import pytest

from bot.domain import PostKind
from bot.platforms import telegram_length
from tests.conftest import RenderFn
from tests.fakes.telegram_html import MarkupError, parse, utf16_length

# core.telegram.org/bots/api#html-style, verbatim examples.
DOCUMENTED = [
    "<b>bold</b>, <strong>bold</strong>",
    "<i>italic</i>, <em>italic</em>",
    "<u>underline</u>, <ins>underline</ins>",
    "<s>strikethrough</s>, <strike>strikethrough</strike>, <del>strikethrough</del>",
    '<span class="tg-spoiler">spoiler</span>, <tg-spoiler>spoiler</tg-spoiler>',
    '<b>bold <i>italic bold <s>italic bold strikethrough <span class="tg-spoiler">italic bold strikethrough '
    "spoiler</span></s> <u>underline italic bold</u></i> bold</b>",
    '<a href="http://www.example.com/">inline URL</a>',
    '<a href="tg://user?id=123456789">inline mention of a user</a>',
    '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
    "<code>inline fixed-width code</code>",
    "<pre>pre-formatted fixed-width code block</pre>",
    '<pre><code class="language-python">pre-formatted fixed-width code block written in the Python programming '
    "language</code></pre>",
    "<blockquote>Block quotation started\nBlock quotation continued\nThe last line of the block quotation</blockquote>",
    "<blockquote expandable>Expandable block quotation started\nExpandable block quotation continued</blockquote>",
]


@pytest.mark.parametrize("text", DOCUMENTED)
def test_every_documented_example_parses(text: str) -> None:
    assert "<" not in parse(text)


def test_entities_decode_and_count_once() -> None:
    assert parse("&lt;b&gt; &amp; &quot;x&quot; &#39;y&#39; &#x1F600;") == "<b> & \"x\" 'y' 😀"
    assert utf16_length(parse("Tom &amp; Jerry")) == 11
    assert utf16_length(parse("😀")) == 2  # outside the BMP: two UTF-16 code units


@pytest.mark.parametrize(("text", "why"), [
    ("line<br>break", 'Unsupported start tag "br"'),
    ("a&nbsp;b", 'Unsupported HTML entity "&nbsp;"'),
    ("Tom & Jerry", "Unescaped '&'"),
    ("1 > 0", "Unescaped '>'"),
    ("<b>bold", 'end tag corresponding to start tag "b"'),
    ("<b><i>x</b></i>", 'expected "</i>", found "</b>"'),
    ("x</b>", "Unexpected end tag"),
    ("<span>x</span>", "tg-spoiler"),
    ('<a href="https://a.example"><a href="https://b.example">x</a></a>', "can't be nested"),
    ("<code><b>x</b></code>", "can't be inside pre or code"),
    ('<code class="language-python">x</code>', "only for code inside pre"),
    ("<blockquote><blockquote>x</blockquote></blockquote>", "can't be nested"),
    ('<b class="x">x</b>', 'Unsupported attribute "class"'),
    ("<b", "Unclosed start tag"),
])
def test_what_telegram_refuses_is_refused(text: str, why: str) -> None:
    with pytest.raises(MarkupError, match=why.replace("(", r"\(")):
        parse(text)


@pytest.mark.parametrize("kind", list(PostKind))
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_fake_and_the_bot_agree_on_every_real_post(render: RenderFn, kind: PostKind, lang: str) -> None:
    post = render(kind, "telegram", lang)
    for part in post.parts:
        assert utf16_length(parse(part.text)) == telegram_length(part.text)

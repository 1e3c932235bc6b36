"""The HTML checkers for Telegram and Dzen, and the conversion of a rendered post into Dzen article HTML."""

from __future__ import annotations

import pytest

from bot.rendering.markup import dzen_html_problems, telegram_html_problems, to_dzen_html

# --- Telegram ---------------------------------------------------------------------------------------------

TELEGRAM_VALID = [
    "plain text, no markup at all",
    "<b>bold</b> <strong>strong</strong> <i>italic</i> <em>em</em> <u>u</u> <ins>ins</ins>",
    "<s>s</s> <strike>strike</strike> <del>del</del> <code>code</code> <pre>pre</pre>",
    '<a href="https://valdaiclub.com/events/">Event page</a>',
    '<span class="tg-spoiler">secret</span> and <tg-spoiler>another</tg-spoiler>',
    "<blockquote expandable>a long quote</blockquote>",
    "<blockquote>a quote</blockquote>",
    "<b>bold <i>and italic <u>and underlined</u></i></b>",
    "1 &lt; 2 &amp;&amp; 3 &gt; 2, &quot;quoted&quot; 😀 &#128512; &#x1F600;",
    "Многострочный\n\nтекст с эмодзи 📅 и «кавычками»",
    "",
]


@pytest.mark.parametrize("text", TELEGRAM_VALID)
def test_telegram_accepts_valid_html(text: str) -> None:
    assert telegram_html_problems(text) == []


TELEGRAM_INVALID = {
    "unknown tag div": ("<div>block</div>", "<div>"),
    "br is not a Telegram tag": ("line<br>line", "<br>"),
    "self-closed br": ("line<br/>line", "<br>"),
    "p is not a Telegram tag": ("<p>para</p>", "<p>"),
    "script": ("<script>alert(1)</script>", "<script>"),
    "unclosed tag": ("<b>bold", "never closed"),
    "unclosed nested tag": ("<b><i>bold</b>", "does not close"),
    "misnested tags": ("<b><i>x</b></i>", "does not close"),
    "stray closing tag": ("text</b>", "does not close"),
    "half a closing tag": ("<b>x</b", "'<'"),
    "bare < between words": ("1 < 2", "'<'"),
    "bare < at the end": ("love <", "'<'"),
    "heart <3": ("I <3 Moscow", "'<'"),
    "bare > ": ("2 > 1", "'>'"),
    "bare & between words": ("salt & pepper", "'&'"),
    "bare & at the end": ("salt &", "'&'"),
    "entity without semicolon at the end": ("&amp", "'&'"),
    "& followed by letters and text": ("R&D department", "&D;"),
    "unsupported named entity nbsp": ("a&nbsp;b", "&nbsp;"),
    "unsupported named entity mdash": ("a &mdash; b", "&mdash;"),
    "disallowed attribute on a": ('<a href="https://x.com" title="t">x</a>', "'title'"),
    "event handler attribute": ('<a href="https://x.com" onclick="evil()">x</a>', "'onclick'"),
    "attribute on b": ('<b class="big">x</b>', "'class'"),
    "span without the spoiler class": ("<span>x</span>", "tg-spoiler"),
    "span with another class": ('<span class="red">x</span>', "tg-spoiler"),
    "comment": ("<!-- note -->text", "comment"),
}


@pytest.mark.parametrize(("text", "expected"), list(TELEGRAM_INVALID.values()), ids=list(TELEGRAM_INVALID))
def test_telegram_rejects_invalid_html(text: str, expected: str) -> None:
    problems = telegram_html_problems(text)
    assert problems, f"{text!r} should be refused"
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("text", ["AT&T", "Q&A", "&amp and more", "a &lt b"])
def test_telegram_rejects_bare_ampersand_before_letters(text: str) -> None:
    assert telegram_html_problems(text) != []


# --- Dzen -------------------------------------------------------------------------------------------------

DZEN_VALID = [
    "<p>paragraph</p>",
    "<h1>h1</h1><h2>h2</h2><h3>h3</h3><h4>h4</h4>",
    "<p><b>b</b> <i>i</i> <u>u</u> <s>s</s></p>",
    '<p><a href="https://valdaiclub.com/">site</a></p>',
    "<ul><li>one</li><li>two</li></ul><ol><li>first</li></ol>",
    "<blockquote>quote</blockquote>",
    '<figure><img src="https://valdaiclub.com/a.jpg" alt="hall"><figcaption>The hall</figcaption></figure>',
    '<p><img src="https://valdaiclub.com/a.jpg"/></p>',
    "<p>1 &lt; 2 &amp; 3 &gt; 2 &quot;q&quot; &#128512;</p>",
]


@pytest.mark.parametrize("text", DZEN_VALID)
def test_dzen_accepts_valid_html(text: str) -> None:
    assert dzen_html_problems(text) == []


DZEN_INVALID = {
    "div": ("<div>x</div>", "<div>"),
    "br": ("<p>a<br>b</p>", "<br>"),
    "span (a Telegram tag)": ('<span class="tg-spoiler">x</span>', "<span>"),
    "tg-spoiler": ("<tg-spoiler>x</tg-spoiler>", "<tg-spoiler>"),
    "code": ("<code>x</code>", "<code>"),
    "script": ("<script>x</script>", "<script>"),
    "unclosed p": ("<p>text", "never closed"),
    "misnested": ("<p><b>x</p></b>", "does not close"),
    "stray closing tag": ("<p>x</p></ul>", "does not close"),
    "bare <": ("<p>1 < 2</p>", "'<'"),
    "bare &": ("<p>salt & pepper</p>", "'&'"),
    "bare >": ("<p>2 > 1</p>", "'>'"),
    "expandable blockquote (Telegram only)": ("<blockquote expandable>x</blockquote>", "'expandable'"),
    "attribute on p": ('<p class="lead">x</p>', "'class'"),
    "style attribute": ('<p><a href="https://x.com" style="color:red">x</a></p>', "'style'"),
    "img with an unknown attribute": ('<img src="https://x.com/a.jpg" width="10">', "'width'"),
    "comment": ("<!-- c --><p>x</p>", "comment"),
}


@pytest.mark.parametrize(("text", "expected"), list(DZEN_INVALID.values()), ids=list(DZEN_INVALID))
def test_dzen_rejects_invalid_html(text: str, expected: str) -> None:
    problems = dzen_html_problems(text)
    assert problems, f"{text!r} should be refused"
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("text", ["<p>R&D department</p>", "<p>AT&T</p>"])
def test_dzen_rejects_bare_ampersand_before_letters(text: str) -> None:
    assert dzen_html_problems(text) != []


# --- to_dzen_html -----------------------------------------------------------------------------------------


def test_to_dzen_html_makes_a_paragraph_of_every_line() -> None:
    text = "<b>Title</b>\n\n📅 27 November, 11:00\n📍 Hall, Moscow\n\nSecond paragraph."
    assert to_dzen_html(text) == (
        "<p><b>Title</b></p>\n<p>📅 27 November, 11:00</p>\n<p>📍 Hall, Moscow</p>\n<p>Second paragraph.</p>"
    )


def test_to_dzen_html_drops_blank_lines_and_strips_lines() -> None:
    html = to_dzen_html("\n\n  first  \n\n\n\nsecond\n\n")
    assert html == "<p>first</p>\n<p>second</p>"
    assert "<p></p>" not in html


def test_to_dzen_html_turns_a_run_of_bullets_into_one_list() -> None:
    text = "<b>Speakers:</b>\n• <b>Dmitry Kiku</b>, Deputy Director\n• <b>Xu Bo</b>, Professor\n\nWorking languages."
    html = to_dzen_html(text)
    assert html == (
        "<p><b>Speakers:</b></p>\n"
        "<ul><li><b>Dmitry Kiku</b>, Deputy Director</li><li><b>Xu Bo</b>, Professor</li></ul>\n"
        "<p>Working languages.</p>"
    )
    assert html.count("<ul>") == 1
    assert dzen_html_problems(html) == []


def test_to_dzen_html_separate_runs_make_separate_lists_and_a_trailing_run_is_closed() -> None:
    html = to_dzen_html("Speakers:\n• A\n• B\nModerator:\n• C")
    assert html == "<p>Speakers:</p>\n<ul><li>A</li><li>B</li></ul>\n<p>Moderator:</p>\n<ul><li>C</li></ul>"
    assert dzen_html_problems(html) == []


def test_to_dzen_html_a_bullet_without_a_space_is_a_paragraph() -> None:
    assert to_dzen_html("•not a list item") == "<p>•not a list item</p>"


def test_to_dzen_html_keeps_an_inline_tag_that_spans_lines_valid() -> None:
    assert dzen_html_problems(to_dzen_html("<b>Line one\nLine two</b>")) == []

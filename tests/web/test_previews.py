"""Drawing posts for the previews: only the platform's own tags survive, everything else is text."""

from __future__ import annotations

import pytest

from bot.rendering.markup import DZEN_TAGS, TELEGRAM_TAGS
from bot.web.previews import DZEN_TO_HTML, TELEGRAM_TO_HTML, dzen_html, plain_text, telegram_html


def test_every_tag_telegram_knows_is_drawn() -> None:
    assert set(TELEGRAM_TO_HTML) == set(TELEGRAM_TAGS)
    assert set(DZEN_TO_HTML) == set(DZEN_TAGS)


def test_telegram_formatting_is_kept() -> None:
    drawn = telegram_html('<b>Title</b> &amp; <i>more</i> <a href="https://t.me/x">link</a> '
                          '<span class="tg-spoiler">secret</span> <tg-spoiler>too</tg-spoiler> <del>old</del>')
    assert drawn == ('<b>Title</b> &amp; <i>more</i> <a href="https://t.me/x" rel="noopener noreferrer nofollow" '
                     'target="_blank">link</a> <span class="tg-spoiler">secret</span> '
                     '<span class="tg-spoiler">too</span> <s>old</s>')


@pytest.mark.parametrize(("source", "forbidden"), [
    ("<script>alert(1)</script>", "<script"),
    ('<img src="x" onerror="alert(1)">', "<img"),
    ('<a href="javascript:alert(1)">x</a>', "javascript:"),
    ('<b onclick="alert(1)">x</b>', "onclick"),
    ("&lt;script&gt;alert(1)&lt;/script&gt;", "<script"),  # escaped text stays text
    ('<a href="https://x" style="color:red" onmouseover="alert(1)">x</a>', "onmouseover"),
    ("<iframe src=https://evil></iframe>", "<iframe"),
])
def test_anything_else_becomes_text(source: str, forbidden: str) -> None:
    assert forbidden not in telegram_html(source)
    assert forbidden not in dzen_html(source)


def test_entities_are_decoded_once_and_escaped_again() -> None:
    assert telegram_html("&lt;b&gt; is a tag, &amp;amp; an entity") == "&lt;b&gt; is a tag, &amp;amp; an entity"


def test_unclosed_tags_are_closed() -> None:
    assert telegram_html("<b>bold <i>both") == "<b>bold <i>both</i></b>"


def test_dzen_article_keeps_its_blocks_and_images() -> None:
    drawn = dzen_html('<h2>Head</h2><p>Text <a href="https://a.b/">a</a></p><ul><li>one</li></ul>'
                      '<figure><img src="https://a.b/c.jpg" alt="c"><figcaption>cap</figcaption></figure>'
                      '<img src="data:image/png;base64,xx">')
    assert drawn.startswith("<h2>Head</h2><p>Text <a href=\"https://a.b/\"")
    assert '<img src="https://a.b/c.jpg" alt="c" loading="lazy">' in drawn
    assert "data:" not in drawn and "<ul><li>one</li></ul>" in drawn


def test_plain_text_links_and_hashtags() -> None:
    drawn = plain_text('Watch: https://vk.com/valdaiclub. <b>#Valdai</b> & "quotes"')
    assert drawn == ('Watch: <a href="https://vk.com/valdaiclub" rel="noopener noreferrer nofollow" '
                     'target="_blank">https://vk.com/valdaiclub</a>. &lt;b&gt;<span class="hashtag">#Valdai</span>'
                     '&lt;/b&gt; &amp; &#34;quotes&#34;')


def test_a_url_cannot_break_out_of_its_attribute() -> None:
    drawn = plain_text('https://x.org/"onmouseover="alert(1)')
    assert 'href="https://x.org/"' in drawn and '"onmouseover' not in drawn

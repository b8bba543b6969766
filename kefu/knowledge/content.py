"""Answer and article text: Markdown in, sanitised HTML and plain text out.

Editors write Markdown (bold, lists, links, images) and may paste simple HTML. Whatever they
type is rendered by markdown-it and then cleaned by nh3 (the Ammonia sanitiser) against a
short allow-list, so a `<script>`, an `onerror=` or a `javascript:` link never reaches a page,
whether it was typed in the editor, imported from a file or written by the API. Pages call
`safe_html` again on output: rows written by older code or by hand are cleaned too.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "s", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "img", "h3", "h4", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}


@lru_cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "breaks": True, "linkify": False})
    md.enable("table")
    md.enable("strikethrough")
    return md


def safe_html(fragment: str) -> str:
    """Cleans an HTML fragment down to the allow-list; links open in a new tab, safely."""
    return nh3.clean(
        fragment or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Markdown (with optional simple HTML) → sanitised HTML."""
    return safe_html(_markdown().render(source or "")).strip()


_BLOCK_END = re.compile(r"</(p|li|h3|h4|blockquote|pre|tr)>|<br\s*/?>|<hr\s*/?>", re.I)
_IMG = re.compile(r"<img\b[^>]*?\balt=\"([^\"]*)\"[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")


def to_plain_text(source: str) -> str:
    """What the bot sends on channels that show no formatting: text, links as text, image alt
    texts in brackets, one line per paragraph or list item."""
    cleaned = render_markdown(source)
    cleaned = _IMG.sub(lambda m: f"[{m.group(1)}]" if m.group(1) else "", cleaned)
    cleaned = _BLOCK_END.sub("\n", cleaned)
    text = html.unescape(_TAG.sub("", cleaned))
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)

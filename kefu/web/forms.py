"""Small helpers for reading HTML forms and query strings in page routes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kefu.web.templating import pick


def positive_int(value: str | None) -> int | None:
    """An id or count typed into a form or query string; anything else is None."""
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if number > 0 else None


def label_picker(table: Mapping[Any, tuple[str, str]]) -> Callable[[str | None], str]:
    """`label(value)` in the reader's language from a {value: (zh, en)} table; unknown values
    show as themselves."""

    def label(value: str | None) -> str:
        pair = table.get(value or "")
        return pick(*pair) if pair else (value or "")

    return label

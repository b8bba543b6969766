"""The Chinese catalogue is complete: every string the code and templates ask to translate has a
zh_CN translation, with the same placeholders, and the compiled .mo matches the .po.

When this fails after adding UI text: run `make i18n`, translate the new entries in
kefu/locale/zh_CN/LC_MESSAGES/messages.po, and run `make i18n` again to compile.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from kefu.core.i18n import LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "kefu"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]")

MsgId = str | tuple[str, ...]


def extracted() -> dict[MsgId, list[str]]:
    """msgid → where it is used, exactly as `make i18n` extracts them (babel.cfg)."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[MsgId, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), method_map, options_map
    ):
        key: MsgId = message if isinstance(message, str) else tuple(message)
        if key:
            found.setdefault(key, []).append(f"kefu/{filename}:{lineno}")
    return found


def catalogue(locale: str) -> Catalog:
    with open(LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=locale)


def _entries(cat: Catalog) -> Iterator[tuple[MsgId, str | tuple[str, ...], bool]]:
    """(msgid, translation, fuzzy); plural ids and translations as tuples."""
    for message in cat:
        if message.id:
            msgid = message.id if isinstance(message.id, str) else tuple(message.id)
            text = message.string
            yield msgid, (text or "") if isinstance(text, str) else tuple(text or ()), message.fuzzy


def test_extraction_finds_the_ui_strings() -> None:
    found = extracted()
    assert "Sign in" in found and "Inbox" in found and "You have signed out." in found


def test_every_msgid_has_a_chinese_translation() -> None:
    zh = {mid: (text, fuzzy) for mid, text, fuzzy in _entries(catalogue("zh_CN"))}
    problems = []
    for msgid, places in sorted(extracted().items(), key=lambda kv: str(kv[0])):
        entry = zh.get(msgid)
        where = places[0]
        if entry is None:
            problems.append(f"not in the catalogue: {msgid!r} ({where})")
            continue
        text, fuzzy = entry
        strings = list(text) if isinstance(text, tuple) else [text]
        if fuzzy or not all(strings):
            problems.append(f"untranslated{' (fuzzy)' if fuzzy else ''}: {msgid!r} ({where})")
    assert not problems, (
        f"{len(problems)} strings lack a zh_CN translation; run `make i18n` and translate "
        "them in kefu/locale/zh_CN/LC_MESSAGES/messages.po:\n" + "\n".join(problems)
    )


def test_translations_keep_the_placeholders() -> None:
    wrong = []
    for msgid, text, _fuzzy in _entries(catalogue("zh_CN")):
        source = msgid[-1] if isinstance(msgid, tuple) else msgid
        for translated in text if isinstance(text, tuple) else (text,):
            if translated and sorted(PLACEHOLDER.findall(source)) != sorted(
                PLACEHOLDER.findall(str(translated))
            ):
                wrong.append(f"{msgid!r} → {translated!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def _key(value: object) -> object:
    return tuple(value) if isinstance(value, (list, tuple)) else value


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_compiled_catalogue_matches_the_po(locale: str) -> None:
    po = {
        _key(mid): text
        for mid, text, fuzzy in _entries(catalogue(locale))
        if any(text if isinstance(text, tuple) else [text]) and not fuzzy
    }
    with open(LOCALE_DIR / locale / "LC_MESSAGES" / "messages.mo", "rb") as f:
        mo = {_key(m.id): m.string for m in read_mo(f) if m.id}
    stale = [mid for mid, text in po.items() if _key(mo.get(mid)) != _key(text)]
    assert not stale, f"{locale}: messages.mo is out of date; run `make i18n`: {stale[:5]}"

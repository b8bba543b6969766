"""Word segmentation with jieba and an e-commerce user dictionary.

The project uses its own `jieba.Tokenizer` instance (not jieba's global one), loaded once per
process by `get_segmenter()`, so other code that uses jieba is not affected by our dictionary.
The dictionary (`kefu/nlp/data/userdict.txt`) adds shop words (有货, 运费险, 七天无理由 …) and
`_SPLIT` removes jieba's default entries that glue a verb to an object in a way that hides the
word that matters ("发顺丰" → 发/顺丰, "货运费" → 货/运费).
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from importlib import resources

import jieba

_DATA = resources.files("kefu.nlp") / "data"

# jieba dictionary entries that swallow a domain word; deleting them lets the word surface.
_SPLIT = (
    "发顺丰",
    "我查",
    "码有",
    "货运费",
    "一号",
    "退货运",
    "能换",
    "还会",
    "有券",
    "上新货",
    "退回去",
    "大一",
    "穿多大",
    "我下",
    "单能",
    "钱能成",
    "一有",
    "加多少",
)

_TOKEN_OK = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)


def _read_lines(name: str) -> list[str]:
    text = (_DATA / name).read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


@lru_cache(maxsize=1)
def weakwords() -> frozenset[str]:
    return frozenset(_read_lines("weakwords.txt"))


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    return frozenset(_read_lines("stopwords.txt"))


class Segmenter:
    """jieba with the shop user dictionary; `cut` drops punctuation and whitespace."""

    def __init__(self, extra_words: tuple[str, ...] = ()) -> None:
        jieba.setLogLevel(logging.WARNING)
        self._tk = jieba.Tokenizer()
        self._tk.initialize()
        for line in _read_lines("userdict.txt"):
            parts = line.split()
            freq = int(parts[1]) if len(parts) > 1 else None
            self._tk.add_word(parts[0], freq=freq)
        for word in extra_words:
            if word and self._tk.FREQ.get(word, 0) == 0:
                self._tk.add_word(word, freq=500)
        for word in _SPLIT:
            self._tk.del_word(word)
        self._lock = threading.Lock()

    def cut(self, text: str) -> list[str]:
        # jieba's Tokenizer is not documented as thread-safe while its dictionary may change;
        # cutting itself only reads, so the lock is only held for the (fast) cut.
        with self._lock:
            tokens = self._tk.lcut(text, HMM=True)
        return [t for t in (tok.strip() for tok in tokens) if t and _TOKEN_OK.search(t)]

    def add_word(self, word: str, freq: int | None = None) -> None:
        with self._lock:
            self._tk.add_word(word, freq=freq)


@lru_cache(maxsize=1)
def get_segmenter() -> Segmenter:
    """The process-wide segmenter (loading jieba's dictionary takes about half a second)."""
    return Segmenter()


def segment(text: str) -> list[str]:
    return get_segmenter().cut(text)

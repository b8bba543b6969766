"""Search over a store's live FAQ entries, for the help center's search box.

The help center uses the bot's own retrieval (`kefu.bot.pipeline.BotPipeline.search_faq`:
normalisation of typos, shorthand and traditional characters, jieba words and BM25), so a
shopper finds what the bot would have answered. The pipeline is imported lazily and built
once per set of entries; if it cannot be imported or fails, a simple normalised
substring/word match takes over, so the page always answers.

Switching the backend is one line: `BACKEND` below ("bot" or "simple").
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from kefu.knowledge.service import ActiveFaq

log = structlog.get_logger(__name__)

BACKEND: Literal["bot", "simple"] = "bot"
MIN_CONFIDENCE = 0.3  # the bot's own "suggest" threshold: below it the bot would not offer it
_CACHE_SIZE = 16
_cache: OrderedDict[str, Any] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class SearchHit:
    entry: ActiveFaq
    score: float


def _fingerprint(entries: Sequence[ActiveFaq]) -> str:
    digest = hashlib.sha256()
    for e in entries:
        digest.update(repr((e.id, e.question, e.similar, e.answer, e.category)).encode())
    return digest.hexdigest()


def _pipeline(entries: Sequence[ActiveFaq]) -> Any:
    """A BotPipeline over these entries, reused while they stay the same."""
    from kefu.bot.pipeline import BotPipeline
    from kefu.bot.retrieval import FaqEntry

    key = _fingerprint(entries)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    bot_entries = [
        FaqEntry(
            id=str(e.id),
            question=e.question,
            similar=e.similar,
            answer=e.answer,
            category=e.category,
        )
        for e in entries
    ]
    built = BotPipeline(bot_entries, [])
    with _lock:
        _cache[key] = built
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return built


def _bot_search(entries: Sequence[ActiveFaq], query: str, limit: int) -> list[SearchHit]:
    from kefu.nlp.normalize import normalize

    by_id = {str(e.id): e for e in entries}
    hits = _pipeline(entries).search_faq(normalize(query), limit=limit)
    return [
        SearchHit(by_id[h.entry.id], float(h.confidence))
        for h in hits
        if h.confidence >= MIN_CONFIDENCE and h.entry.id in by_id
    ]


_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def _simple_key(text: str) -> str:
    try:
        from kefu.nlp.normalize import normalize

        text = normalize(text)
    except Exception:  # the normaliser is optional here
        text = text.lower()
    return _PUNCT.sub("", text)


def _simple_search(entries: Sequence[ActiveFaq], query: str, limit: int) -> list[SearchHit]:
    """Whole query as a substring scores highest; otherwise the share of its words (jieba,
    or characters when jieba is missing) found in the entry."""
    needle = _simple_key(query)
    if not needle:
        return []
    try:
        import jieba

        words = [w for w in (_simple_key(t) for t in jieba.lcut(needle)) if w]
    except Exception:
        words = list(needle)
    scored: list[SearchHit] = []
    for entry in entries:
        phrasings = _simple_key(" ".join([entry.question, *entry.similar]))
        body = phrasings + _simple_key(entry.answer)
        if needle in phrasings:
            score = 1.0
        elif needle in body:
            score = 0.8
        else:
            found = sum(1 for w in words if w in body)
            score = 0.6 * found / len(words) if words else 0.0
        if score >= MIN_CONFIDENCE:
            scored.append(SearchHit(entry, score))
    scored.sort(key=lambda h: -h.score)
    return scored[:limit]


def search_entries(entries: Sequence[ActiveFaq], query: str, limit: int = 10) -> list[SearchHit]:
    query = (query or "").strip()[:200]
    if not query or not entries:
        return []
    if BACKEND == "bot":
        try:
            return _bot_search(entries, query, limit)
        except Exception:  # a broken index must not break the help center
            log.exception("helpcenter_bot_search_failed")
    return _simple_search(entries, query, limit)

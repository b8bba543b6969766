"""One `BotPipeline` per store and channel, rebuilt when the shop's knowledge changes.

Building a pipeline costs from milliseconds (a few dozen entries) to seconds (10,000), so it
is cached per process. Whether the cache is still right is asked of the database on every
turn with one aggregate query over the store's FAQ rows (count, sum of versions, newest
update): every knowledge write bumps an entry's version, adds a row or changes the store's
set of rows, so any edit committed by any process changes the fingerprint. Entries that
become valid or expire with time need no write: the cache also remembers the next
`valid_from`/`valid_until` boundary and rebuilds once it has passed. This works the same with
one web process, several, or `kefu worker` processes, without listening to events.

The index is built in a thread so a large knowledge base does not stall the event loop.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bot.intents import IntentSpec, load_intents
from kefu.bot.pipeline import BotPipeline, Thresholds
from kefu.core.db import utcnow
from kefu.knowledge.models import Faq, FaqStore
from kefu.knowledge.service import active_faq_entries

DEFAULT_INTENTS = Path(__file__).parent / "data" / "intents.json"


@lru_cache(maxsize=1)
def default_intents() -> tuple[IntentSpec, ...]:
    return tuple(load_intents(json.loads(DEFAULT_INTENTS.read_text(encoding="utf-8"))))


@dataclass
class _Cached:
    fingerprint: tuple[Any, ...]
    valid_until: datetime | None
    pipeline: BotPipeline
    faq_ids: dict[str, int]  # faq key → database id


_cache: dict[tuple[int, str, Thresholds], _Cached] = {}
# Per event loop: tests and the live server each run their own loop.
_locks: dict[tuple[int, tuple[int, str, Thresholds]], asyncio.Lock] = {}


def _for_store(store_id: int) -> Any:
    return or_(
        Faq.all_stores.is_(True),
        exists().where(FaqStore.faq_id == Faq.id, FaqStore.store_id == store_id),
    )


async def knowledge_fingerprint(
    session: AsyncSession, store_id: int
) -> tuple[tuple[Any, ...], datetime | None]:
    """(what identifies the store's current FAQ rows, the next validity boundary)."""
    row = (
        await session.execute(
            select(func.count(Faq.id), func.sum(Faq.version), func.max(Faq.updated_at)).where(
                _for_store(store_id)
            )
        )
    ).one()
    now = utcnow()
    live = (
        Faq.deleted_at.is_(None),
        Faq.enabled.is_(True),
        _for_store(store_id),
    )
    next_start = await session.scalar(
        select(func.min(Faq.valid_from)).where(*live, Faq.valid_from > now)
    )
    next_end = await session.scalar(
        select(func.min(Faq.valid_until)).where(*live, Faq.valid_until > now)
    )
    boundary = min((b for b in (next_start, next_end) if b is not None), default=None)
    updated = row[2].isoformat() if isinstance(row[2], datetime) else str(row[2])
    return (int(row[0] or 0), int(row[1] or 0), updated), boundary


async def pipeline_for(
    session: AsyncSession, store_id: int, channel: str, thresholds: Thresholds
) -> tuple[BotPipeline, dict[str, int]]:
    """The store's pipeline for `channel`, rebuilt if its knowledge changed since cached."""
    key = (store_id, channel, thresholds)
    fingerprint, boundary = await knowledge_fingerprint(session, store_id)
    cached = _cache.get(key)
    if cached is not None and _fresh(cached, fingerprint):
        return cached.pipeline, cached.faq_ids
    lock = _locks.setdefault((id(asyncio.get_running_loop()), key), asyncio.Lock())
    async with lock:
        cached = _cache.get(key)
        if cached is not None and _fresh(cached, fingerprint):
            return cached.pipeline, cached.faq_ids
        entries = await active_faq_entries(session, store_id, channel)
        data = [e.as_bot_dict() for e in entries]
        pipeline = await asyncio.to_thread(
            BotPipeline.from_data,
            data,
            [_intent_dict(spec) for spec in default_intents()],
            thresholds=thresholds,
        )
        built = _Cached(fingerprint, boundary, pipeline, {e.key: e.id for e in entries})
        _cache[key] = built
        return built.pipeline, built.faq_ids


def _fresh(cached: _Cached, fingerprint: tuple[Any, ...]) -> bool:
    if cached.fingerprint != fingerprint:
        return False
    return cached.valid_until is None or cached.valid_until > utcnow()


def _intent_dict(spec: IntentSpec) -> dict[str, object]:
    return {"intent": spec.name, "description": spec.description, "examples": list(spec.examples)}


def clear_cache() -> None:
    _cache.clear()
    _locks.clear()

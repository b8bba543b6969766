"""The detection sweep: every 30 seconds, read what changed since the last run and detect.

Why a sweep and not a job per import batch: orders change through several writers (the
import API, files, webhooks, the connector, the demo loader), a sweep sees them all, and a
watermark in the database survives restarts, so nothing is missed while workers are down.

The watermark is the newest `updated_at` seen per table. Each run re-reads an `OVERLAP`
before it, because a long import transaction can commit rows whose `updated_at` is older
than rows another transaction committed first; detection is idempotent, so reading a row
twice costs a query and changes nothing. Pages are read by keyset on (updated_at, id).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.orderservice import detection
from kefu.orderservice.models import SweepMark
from kefu.store.models import Order, Sku, Store

OVERLAP = timedelta(minutes=5)
PAGE = 1000
_BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)


async def _mark(session: AsyncSession, name: str) -> SweepMark:
    mark = await session.get(SweepMark, name, with_for_update=True)
    if mark is None:
        mark = SweepMark(name=name, scanned_until=_BEGINNING)
        session.add(mark)
        await session.flush()
    return mark


async def _changed(
    session: AsyncSession, model: Any, since: datetime, *where: Any
) -> list[tuple[int, int, datetime]]:
    """(id, store_id, updated_at) of every row changed after `since`, oldest first."""
    out: list[tuple[int, int, datetime]] = []
    after_at, after_id = since, 0
    while True:
        stmt = (
            select(model.id, model.store_id, model.updated_at)
            .where(
                or_(
                    model.updated_at > after_at,
                    and_(model.updated_at == after_at, model.id > after_id),
                ),
                *where,
            )
            .order_by(model.updated_at, model.id)
            .limit(PAGE)
        )
        rows = [(i, s, at) for i, s, at in (await session.execute(stmt)).all()]
        out += rows
        if len(rows) < PAGE:
            return out
        after_id, _, after_at = rows[-1]


def _by_store(rows: Sequence[tuple[int, int, datetime]]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = defaultdict(list)
    for row_id, store_id, _ in rows:
        grouped[store_id].append(row_id)
    return grouped


async def sweep(session: AsyncSession) -> detection.DetectionResult:
    """Detect on everything changed since the marks; the caller commits."""
    total = detection.DetectionResult()
    stores = {s.id: s for s in (await session.scalars(select(Store))).all()}
    for name, model, where, detect in (
        ("orders", Order, (), detection.detect_for_orders),
        ("skus", Sku, (Sku.stock <= 0,), detection.detect_for_skus),
    ):
        mark = await _mark(session, name)
        rows = await _changed(session, model, mark.scanned_until - OVERLAP, *where)
        for store_id, ids in _by_store(rows).items():
            store = stores.get(store_id)
            if store is None:
                continue
            found = await detect(session, store, ids)
            total.flag_ids += found.flag_ids
            total.stockout_ids += found.stockout_ids
            total.address_ids += found.address_ids
        if rows:
            mark.scanned_until = max(mark.scanned_until, max(at for _, _, at in rows))
    await session.flush()
    return total

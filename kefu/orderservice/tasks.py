"""Order-service jobs: the detection sweep (every 30 s), and auto-asking what it found when
the store turned that on."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor, record_audit
from kefu.core.jobs import job, job_session, schedule
from kefu.orderservice import detection, work
from kefu.orderservice.models import AddressConfirmation, OrderFlag, StockoutCase
from kefu.orderservice.settings import settings_for
from kefu.orderservice.sweep import sweep
from kefu.store.models import Store

log = structlog.get_logger(__name__)

SYSTEM = Actor.system("订单服务")


async def detect_and_ask(session: AsyncSession) -> detection.DetectionResult:
    """One sweep, audited, with auto-ask for the stores that want it; the caller commits."""
    result = await sweep(session)
    if not (result.flag_ids or result.stockout_ids or result.address_ids):
        return result
    await record_audit(
        session, SYSTEM, "orderservice.detect", "orderservice", None,
        after={"flags": result.flag_ids, "stockouts": result.stockout_ids,
               "address_tasks": len(result.address_ids)},
        only_changes=False,
    )  # fmt: skip
    await _auto_ask(session, result)
    return result


async def _auto_ask(session: AsyncSession, result: detection.DetectionResult) -> None:
    stores = {s.id: s for s in (await session.scalars(select(Store))).all()}
    groups: tuple[tuple[str, Any, list[int]], ...] = (
        ("flag", OrderFlag, result.flag_ids),
        ("stockout", StockoutCase, result.stockout_ids),
        ("address", AddressConfirmation, result.address_ids),
    )
    for kind, model, ids in groups:
        for row_id in ids:
            row = await session.get(model, row_id)
            store = stores.get(row.store_id) if row is not None else None
            if store is None or not settings_for(store).auto_ask:
                continue
            # One failed post must not undo the sweep (its watermark would never advance).
            try:
                async with session.begin_nested():
                    await work.ask(session, SYSTEM, kind, row_id)
            except Exception:
                log.exception("orderservice_auto_ask_failed", kind=kind, id=row_id)


@job("orderservice.detect")
async def detect() -> detection.DetectionResult:
    async with job_session() as session:
        result = await detect_and_ask(session)
        await session.commit()
    if result.flag_ids or result.stockout_ids or result.address_ids:
        log.info(
            "orderservice_detected",
            flags=len(result.flag_ids),
            stockouts=len(result.stockout_ids),
            # (not "address_…": the log redacts keys that look like personal data)
            confirmations_asked=len(result.address_ids),
        )
    return result


schedule("orderservice.detect", 30)

"""The timers: unshipped returns close after the return window, unanswered requests escalate
once (and small refund-only requests may be approved and refunded automatically)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from kefu.aftersales import service, timeouts
from kefu.aftersales.enums import CaseSource, CaseStatus
from kefu.aftersales.schemas import CaseCreate
from kefu.core.db import Database, utcnow
from kefu.store.models import Order, Store
from tests.aftersales.conftest import AGENT, APPROVER


async def _case(db: Database, order: Order, **overrides: Any) -> int:
    values: dict[str, Any] = {
        "order_id": order.id,
        "kind": "return_refund",
        "reason": "no_reason",
        "lines": [{"order_item_id": order.items[0].id, "quantity": 1}],
    }
    values.update(overrides)
    async with db.sessionmaker() as s:
        created = await service.create_case(
            s, AGENT, CaseCreate.model_validate(values), source=CaseSource.agent
        )
        await s.commit()
        return created.case.id


async def _sweep(db: Database, at: Any) -> timeouts.SweepResult:
    async with db.sessionmaker() as s:
        result = await timeouts.sweep_timeouts(s, at)
        await s.commit()
        return result


async def test_unshipped_return_closes_after_seven_days(db: Database, signed_order: Any) -> None:
    _, _, order = signed_order
    case_id = await _case(db, order)
    async with db.sessionmaker() as s:
        await service.approve(s, APPROVER, case_id)
        await s.commit()
    assert (await _sweep(db, utcnow() + timedelta(days=6, hours=23))).closed == 0
    result = await _sweep(db, utcnow() + timedelta(days=7, minutes=1))
    assert result.closed == 1
    async with db.sessionmaker() as s:
        case = await service.get_case(s, case_id)
        assert case.status == CaseStatus.closed and "退货单号" in case.close_reason
        assert [e.action for e in await service.case_events(s, case_id)][-1] == "return_timeout"
    assert (await _sweep(db, utcnow() + timedelta(days=8))).closed == 0


async def test_entering_tracking_stops_the_return_clock(db: Database, signed_order: Any) -> None:
    _, _, order = signed_order
    case_id = await _case(db, order)
    async with db.sessionmaker() as s:
        await service.approve(s, APPROVER, case_id)
        await service.enter_return_tracking(
            s, AGENT, case_id, carrier="圆通", tracking_no="YT99887766"
        )
        await s.commit()
    assert (await _sweep(db, utcnow() + timedelta(days=30))).closed == 0


async def test_unanswered_request_escalates_once_even_with_concurrent_sweeps(
    db: Database, signed_order: Any
) -> None:
    _, _, order = signed_order
    case_id = await _case(db, order)
    assert (await _sweep(db, utcnow() + timedelta(hours=47))).escalated == 0
    later = utcnow() + timedelta(hours=49)
    results = await asyncio.gather(_sweep(db, later), _sweep(db, later))
    assert sum(r.escalated for r in results) == 1
    async with db.sessionmaker() as s:
        case = await service.get_case(s, case_id)
        assert case.escalated_at is not None and case.status == CaseStatus.requested
        events = await service.case_events(s, case_id)
        assert [e.action for e in events] == ["created", "escalated"]
        assert not events[-1].customer_visible


async def test_small_refund_only_is_auto_approved_and_refunded(
    db: Database, signed_order: Any
) -> None:
    store, _, order = signed_order
    async with db.sessionmaker() as s:
        row = await s.get(Store, store.id)
        assert row is not None
        row.settings = {"aftersales": {"auto_approve_refund_only_below": "100"}}
        await s.commit()
    small = await _case(db, order, kind="refund_only", reason="missing_item")  # ¥99
    big = await _case(
        db,
        order,
        kind="refund_only",
        reason="missing_item",
        lines=[{"order_item_id": order.items[1].id, "quantity": 1}],
    )  # ¥299
    result = await _sweep(db, utcnow() + timedelta(hours=49))
    assert result.escalated == 2 and result.auto_approved == 1
    async with db.sessionmaker() as s:
        assert (await service.get_case(s, small)).status == CaseStatus.refunded
        assert (await service.get_case(s, big)).status == CaseStatus.requested
        fresh = await s.scalar(select(Order).where(Order.id == order.id))
        assert fresh is not None and fresh.refunded_amount == Decimal("99.00")

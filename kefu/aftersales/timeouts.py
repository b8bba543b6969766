"""The after-sales timers: returns not shipped in time, requests the shop did not answer.

Both are due timestamps on the case (`return_due_at`, `answer_due_at`, set by the service from
the store's settings), so the database is the source of truth and a sweep missed during a
restart simply acts on the next run. Each sweep claims its rows with one conditional
`UPDATE … RETURNING id` (as the ticket SLA sweep does): two workers running at once never
close or escalate the same case twice.

* Awaiting the buyer's return past `return_due_at` → closed, the buyer told why.
* A request past `answer_due_at` → escalated once (supervisors are alerted); refund-only
  requests the policy allowed below `auto_approve_refund_only_below` are approved and refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import User
from kefu.aftersales import notify, service
from kefu.aftersales.enums import CaseStatus, RequestKind
from kefu.aftersales.models import AftersalesCase
from kefu.aftersales.policy import settings_for_store
from kefu.aftersales.refunds import to_cents
from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import KefuError
from kefu.core.events import queue_event
from kefu.store.models import Store

log = structlog.get_logger(__name__)

SYSTEM = Actor.system("售后超时")
RETURN_TIMEOUT_REASON = "超过退货寄回期限未填写退货单号，售后单已自动关闭"


@dataclass
class SweepResult:
    closed: int = 0
    escalated: int = 0
    auto_approved: int = 0


async def _supervisor_ids(session: AsyncSession) -> list[int]:
    rows = await session.scalars(
        select(User.id).where(User.role.in_(("supervisor", "admin")), User.is_active.is_(True))
    )
    return list(rows.all())


async def _close_unshipped(session: AsyncSession, now: datetime, result: SweepResult) -> None:
    claimed = await session.execute(
        update(AftersalesCase)
        .where(
            AftersalesCase.status == CaseStatus.awaiting_return.value,
            AftersalesCase.return_due_at <= now,
        )
        .values(
            status=CaseStatus.closed.value,
            closed_at=now,
            return_due_at=None,
            close_reason=RETURN_TIMEOUT_REASON,
        )
        .returning(AftersalesCase.id)
        .execution_options(synchronize_session=False)
    )
    for case_id in [row[0] for row in claimed.all()]:
        case = await service.get_case(session, case_id, for_update=False)
        await session.refresh(case)
        event = await service.log_event(
            session,
            case,
            SYSTEM,
            "return_timeout",
            from_status=CaseStatus.awaiting_return.value,
            to_status=CaseStatus.closed.value,
            note=RETURN_TIMEOUT_REASON,
        )
        await record_audit(
            session,
            SYSTEM,
            "aftersales.return_timeout",
            "aftersales_case",
            case.id,
            before={"status": CaseStatus.awaiting_return.value},
            after={"status": CaseStatus.closed.value},
            store_id=case.store_id,
            reason=RETURN_TIMEOUT_REASON,
        )
        await notify.notify_customer(
            session,
            case,
            "您未在期限内寄回商品并填写退货单号，售后单已自动关闭。如仍需售后，请重新申请。",
            event_id=event.id,
        )
        result.closed += 1


async def _escalate_unanswered(session: AsyncSession, now: datetime, result: SweepResult) -> None:
    claimed = await session.execute(
        update(AftersalesCase)
        .where(
            AftersalesCase.status == CaseStatus.requested.value,
            AftersalesCase.answer_due_at <= now,
            AftersalesCase.escalated_at.is_(None),
        )
        .values(escalated_at=now)
        .returning(AftersalesCase.id)
        .execution_options(synchronize_session=False)
    )
    ids = [row[0] for row in claimed.all()]
    if not ids:
        return
    supervisors = await _supervisor_ids(session)
    stores: dict[int, Store | None] = {}
    for case_id in ids:
        case = await service.get_case(session, case_id)
        await session.refresh(case)
        result.escalated += 1
        await service.log_event(
            session,
            case,
            SYSTEM,
            "escalated",
            note="商家超时未处理售后申请，已升级给主管",
            customer_visible=False,
        )
        await record_audit(
            session,
            SYSTEM,
            "aftersales.escalate",
            "aftersales_case",
            case.id,
            after={"escalated_at": now.isoformat()},
            store_id=case.store_id,
        )
        payload = {"type": "aftersales.escalated", "case_id": case.id, "number": case.number}
        for uid in supervisors:
            queue_event(session, f"agent:{uid}", payload)
        if case.store_id not in stores:
            stores[case.store_id] = await session.get(Store, case.store_id)
        threshold = settings_for_store(stores[case.store_id]).auto_approve_refund_only_below
        if (
            threshold is not None
            and case.kind == RequestKind.refund_only
            and case.decision_allowed
            and 0 < case.refund_cents < to_cents(threshold)
        ):
            try:
                async with session.begin_nested():
                    await service.approve(
                        session, SYSTEM, case.id, note="超时未处理，按店铺设置自动同意"
                    )
                    await service.refund(session, SYSTEM, case.id)
                result.auto_approved += 1
            except KefuError as exc:
                log.warning("aftersales_auto_approve_failed", case_id=case.id, error=exc.en)
                await service.log_event(
                    session,
                    case,
                    SYSTEM,
                    "note",
                    note=f"自动同意失败：{exc.zh}",
                    customer_visible=False,
                )


async def sweep_timeouts(session: AsyncSession, now: datetime | None = None) -> SweepResult:
    """Act on every case whose timer ran out. Safe to run concurrently."""
    now = now or utcnow()
    result = SweepResult()
    await _close_unshipped(session, now, result)
    await _escalate_unanswered(session, now, result)
    await session.flush()
    return result

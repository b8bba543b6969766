"""The case workflow on a real database: policy at creation, the state machine, overrides,
refunds through the connector (idempotent and capped), reshipments, notifications."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from kefu.aftersales import service
from kefu.aftersales.enums import CaseSource, CaseStatus
from kefu.aftersales.models import AftersalesEvent
from kefu.aftersales.schemas import CaseCreate, OverrideIn
from kefu.core import jobs
from kefu.core.audit import AuditEntry
from kefu.core.db import Database
from kefu.core.errors import Invalid
from kefu.core.mail import OutboxMail
from kefu.store.enums import OrderStatus
from kefu.store.models import Order, Refund
from tests.aftersales.conftest import AGENT, APPROVER, WAREHOUSE
from tests.core.test_mail import _wait_for
from tests.fixtures.servers import CapturedMail


def _request(order: Order, **overrides: Any) -> CaseCreate:
    tee = order.items[0]
    values: dict[str, Any] = {
        "order_id": order.id,
        "kind": "return_refund",
        "reason": "no_reason",
        "lines": [{"order_item_id": tee.id, "quantity": 1}],
        "description": "尺码偏小",
    }
    values.update(overrides)
    return CaseCreate.model_validate(values)


async def _create(db: Database, data: CaseCreate, **kw: Any) -> int:
    async with db.sessionmaker() as s:
        created = await service.create_case(
            s, kw.pop("actor", AGENT), data, source=kw.pop("source", CaseSource.agent), **kw
        )
        await s.commit()
        return created.case.id


async def _run(db: Database, action: Any, *args: Any, **kw: Any) -> Any:
    async with db.sessionmaker() as s:
        result = await action(s, *args, **kw)
        await s.commit()
        return result


async def test_return_and_refund_end_to_end(
    db: Database, signed_order: Any, smtp: CapturedMail
) -> None:
    jobs.use_job_sessionmaker(db.sessionmaker)  # mail delivery runs on this test's database
    _, _, order = signed_order
    case_id = await _create(db, _request(order))
    async with db.sessionmaker() as s:
        case = await service.get_case(s, case_id)
        assert case.status == CaseStatus.requested
        assert case.number.startswith("SH") and len(case.number) == len("SH20261123-00001")
        assert case.decision_allowed and "七天无理由" in case.explanation_zh
        assert case.refund_cents == 9900
        assert case.answer_due_at is not None

    await _run(db, service.approve, APPROVER, case_id)
    async with db.sessionmaker() as s:
        case = await service.get_case(s, case_id)
        assert case.status == CaseStatus.awaiting_return
        assert case.return_due_at is not None and case.answer_due_at is None
        assert "文一西路" in case.return_address

    await _run(
        db,
        service.enter_return_tracking,
        AGENT,
        case_id,
        carrier="顺丰",
        tracking_no="SF1234567890",
    )
    await _run(db, service.receive, WAREHOUSE, case_id)
    await _run(db, service.inspect, WAREHOUSE, case_id, passed=True, note="吊牌完好")
    await _run(db, service.refund, AGENT, case_id)
    async with db.sessionmaker() as s:
        case = await service.get_case(s, case_id)
        assert case.status == CaseStatus.refunded and case.refunded_cents == 9900
        fresh = await s.get(Order, order.id)
        assert fresh is not None and fresh.refunded_amount == Decimal("99.00")
        actions = [e.action for e in await service.case_events(s, case_id)]
        assert actions == ["created", "approve", "return_shipped", "receive", "inspect", "refund"]
        audited = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.entity_type == "aftersales_case", AuditEntry.entity_id == str(case_id)
            )
        )
        assert audited is not None and audited >= 6
    # No open conversation: the buyer is told by mail, in Chinese, at every step.
    async with db.sessionmaker() as s:
        queued = list((await s.scalars(select(OutboxMail))).all())
        assert len(queued) == 6, [(m.subject, m.status, m.last_error) for m in queued]
    for _ in range(1000):  # delivery runs in background jobs; CPU is shared in CI
        if len(smtp.messages) >= 6:
            break
        await asyncio.sleep(0.02)
    await _wait_for(smtp, 6)
    assert {to[0] for to, _ in smtp.messages} == {"buyer@example.com"}
    assert all(case.number in message["subject"] for _, message in smtp.messages)
    bodies = "".join(message.get_body().get_content() for _, message in smtp.messages)
    assert "已为您退款 ¥99.00" in bodies


async def test_refund_is_idempotent_when_retried_and_concurrent(
    db: Database, signed_order: Any
) -> None:
    _, _, order = signed_order
    case_id = await _create(
        db,
        _request(
            order,
            kind="refund_only",
            reason="missing_item",
            lines=[{"order_item_id": order.items[1].id, "quantity": 1}],
        ),
    )
    await _run(db, service.approve, APPROVER, case_id)

    async def pay() -> str:
        try:
            await _run(db, service.refund, AGENT, case_id)
            return "ok"
        except Exception as exc:  # the loser of a race may be told to retry
            return type(exc).__name__

    results = await asyncio.gather(pay(), pay(), pay())
    assert "ok" in results
    await _run(db, service.refund, AGENT, case_id)  # a later retry is a no-op
    async with db.sessionmaker() as s:
        refunds = (await s.scalars(select(Refund).where(Refund.order_id == order.id))).all()
        assert sum(r.amount for r in refunds) == Decimal("299.00")
        fresh = await s.get(Order, order.id)
        assert fresh is not None and fresh.refunded_amount == Decimal("299.00")


async def test_idempotent_create_by_key(db: Database, signed_order: Any) -> None:
    _, _, order = signed_order
    first = await _create(db, _request(order), idempotency_key="req-1")
    again = await _create(db, _request(order), idempotency_key="req-1")
    assert first == again
    by_external = await _create(
        db,
        _request(
            order,
            external_id="TB-RF-9",
            lines=[{"order_item_id": order.items[1].id, "quantity": 1}],
        ),
    )
    assert by_external == await _create(
        db,
        _request(
            order,
            external_id="TB-RF-9",
            lines=[{"order_item_id": order.items[1].id, "quantity": 1}],
        ),
    )


async def test_units_in_an_open_case_cannot_be_asked_again(db: Database, signed_order: Any) -> None:
    _, _, order = signed_order
    await _create(db, _request(order, lines=[{"order_item_id": order.items[0].id, "quantity": 2}]))
    second = await _create(db, _request(order))
    async with db.sessionmaker() as s:
        case = await service.get_case(s, second)
        assert case.status == CaseStatus.refused
        assert "可申请 0 件" in case.explanation_zh


async def test_refused_by_policy_then_overridden_with_reason(
    db: Database, make_store: Any, make_customer: Any, make_order: Any
) -> None:
    from datetime import timedelta

    from kefu.core.db import utcnow

    store = await make_store()
    customer = await make_customer(store)
    signed = utcnow() - timedelta(days=30)
    order = await make_order(
        store,
        customer,
        status=OrderStatus.TRADE_FINISHED,
        signed_at=signed,
        placed_at=signed - timedelta(days=2),
    )
    case_id = await _create(db, _request(order))
    async with db.sessionmaker() as s:
        case = await service.get_case(s, case_id)
        assert case.status == CaseStatus.refused and not case.decision_allowed
        assert "不予受理" in case.explanation_zh
    with pytest.raises(Invalid):
        await _run(db, service.approve, APPROVER, case_id)
    await _run(
        db, service.approve, APPROVER, case_id, override=OverrideIn(reason="老顾客，破例退货")
    )
    async with db.sessionmaker() as s:
        case = await service.get_case(s, case_id)
        assert case.status == CaseStatus.awaiting_return
        assert case.override_reason == "老顾客，破例退货" and case.decision_allowed
        assert "人工改判" in case.explanation_zh
        assert case.decision["original"]["allowed"] is False
        entry = await s.scalar(
            select(AuditEntry).where(AuditEntry.action == "aftersales.policy_override")
        )
        assert entry is not None and entry.reason == "老顾客，破例退货"
        assert entry.before is not None and entry.before["allowed"] is False


async def test_invalid_transitions_are_refused_in_chinese(db: Database, signed_order: Any) -> None:
    _, _, order = signed_order
    case_id = await _create(db, _request(order))
    with pytest.raises(service.InvalidTransition) as refused:
        await _run(db, service.receive, WAREHOUSE, case_id)
    assert "待审核" in refused.value.zh
    with pytest.raises(service.InvalidTransition):
        await _run(db, service.refund, AGENT, case_id)
    await _run(db, service.reject, APPROVER, case_id, "超过无理由退货期")
    async with db.sessionmaker() as s:
        case = await service.get_case(s, case_id)
        assert case.status == CaseStatus.rejected and case.rejection_reason == "超过无理由退货期"
        # Rejecting what the engine allowed is an override, recorded with its reason.
        assert case.decision["override"]["reason"] == "超过无理由退货期"
    with pytest.raises(service.InvalidTransition):
        await _run(db, service.reject, APPROVER, case_id, "again")


async def test_failed_inspection_refund_needs_an_approver_and_reason(
    db: Database, signed_order: Any
) -> None:
    _, _, order = signed_order
    case_id = await _create(db, _request(order))
    await _run(db, service.approve, APPROVER, case_id)
    await _run(db, service.receive, WAREHOUSE, case_id)
    with pytest.raises(Invalid):
        await _run(db, service.inspect, WAREHOUSE, case_id, passed=False, note="")
    await _run(db, service.inspect, WAREHOUSE, case_id, passed=False, note="吊牌已剪")
    with pytest.raises(Invalid):
        await _run(db, service.refund, AGENT, case_id)
    with pytest.raises(Invalid):
        await _run(db, service.refund, APPROVER, case_id, may_override=True)
    await _run(
        db,
        service.refund,
        APPROVER,
        case_id,
        may_override=True,
        override_reason="顾客投诉，协商退款",
    )
    async with db.sessionmaker() as s:
        assert (await service.get_case(s, case_id)).status == CaseStatus.refunded


async def test_resend_ships_a_new_parcel(db: Database, signed_order: Any) -> None:
    _, _, order = signed_order
    case_id = await _create(db, _request(order, kind="resend", reason="missing_item"))
    await _run(db, service.approve, APPROVER, case_id)
    await _run(db, service.reship, AGENT, case_id, carrier="中通", tracking_no="ZT100200300")
    async with db.sessionmaker() as s:
        case = await service.get_case(s, case_id)
        assert case.status == CaseStatus.reshipped and case.reship_shipment_id is not None
    await _run(db, service.close, AGENT, case_id, reason="顾客已收到补发")
    async with db.sessionmaker() as s:
        assert (await service.get_case(s, case_id)).status == CaseStatus.closed


async def test_notice_goes_to_the_open_conversation(db: Database, signed_order: Any) -> None:
    from kefu.conversations.models import Conversation, Message

    store, customer, order = signed_order
    async with db.sessionmaker() as s:
        conv = Conversation(store_id=store.id, customer_id=customer.id, visitor_hash="v" * 64)
        s.add(conv)
        await s.commit()
    case_id = await _create(db, _request(order))
    await _run(db, service.approve, APPROVER, case_id)
    async with db.sessionmaker() as s:
        bodies = list(
            (await s.scalars(select(Message.body).where(Message.conversation_id == conv.id))).all()
        )
        assert any("已提交" in b for b in bodies)
        assert any("寄回" in b and "文一西路" in b for b in bodies)
        logged = await s.scalar(select(func.count()).select_from(AftersalesEvent))
        assert logged == 2

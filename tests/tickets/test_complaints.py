"""Complaints: repeat and high-risk flags, compensation approval limits, follow-up visits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.permissions import Role
from kefu.core.audit import Actor, AuditEntry
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, Forbidden
from kefu.core.events import pending_events
from kefu.tickets import complaints, service
from kefu.tickets.enums import CompensationKind, TicketStatus
from kefu.tickets.schemas import CompensationIn, ComplaintIn
from tests.fixtures.factories import MakeUser
from tests.tickets.conftest import Shop, actor_of, new_ticket

CUSTOMER = Actor("customer", None, "客户")


@pytest.mark.parametrize("word", ["12315", "工商", "律师", "曝光"])
async def test_risk_words_mark_complaint_high_risk(
    tsession: AsyncSession, make_user: MakeUser, word: str
) -> None:
    agent = actor_of(await make_user(Role.agent))
    await make_user(Role.supervisor)
    ticket = await new_ticket(
        tsession,
        agent,
        type_code="complaint",
        subject="质量问题",
        description=f"再不处理我就找{word}",
    )
    assert ticket.is_high_risk and ticket.priority == "urgent"
    complaint = await complaints.get_complaint(tsession, ticket.id)
    assert complaint is not None and complaint.risk_words == [word]


async def test_risk_word_in_later_customer_message(
    tsession: AsyncSession, make_user: MakeUser
) -> None:
    agent = actor_of(await make_user(Role.agent))
    supervisor = await make_user(Role.supervisor)
    ticket = await new_ticket(tsession, agent, type_code="complaint", subject="发错颜色")
    assert not ticket.is_high_risk and ticket.priority == "normal"
    await service.record_customer_reply(tsession, CUSTOMER, ticket.id, "不给说法我就发微博曝光")
    assert ticket.is_high_risk and ticket.priority == "urgent"
    assert any(
        c == f"agent:{supervisor.id}" and p["type"] == "ticket.high_risk"
        for c, p in pending_events(tsession)
    )
    await tsession.commit()


async def test_inquiry_with_risk_word_is_not_a_complaint(
    tsession: AsyncSession, make_user: MakeUser
) -> None:
    agent = actor_of(await make_user(Role.agent))
    ticket = await new_ticket(tsession, agent, subject="你们的律师函模板？")
    assert not ticket.is_high_risk


async def test_repeat_complaint_same_customer_within_30_days(
    tsession: AsyncSession, make_user: MakeUser, shop: Shop
) -> None:
    agent = actor_of(await make_user(Role.agent))
    first = await new_ticket(
        tsession, agent, type_code="complaint", customer_id=shop.customer.id,
        now=utcnow() - timedelta(days=20),
    )  # fmt: skip
    assert not first.is_repeat
    second = await new_ticket(tsession, agent, type_code="complaint", customer_id=shop.customer.id)
    assert second.is_repeat and second.priority == "high"
    complaint = await complaints.get_complaint(tsession, second.id)
    assert complaint is not None and complaint.repeat_of_ticket_id == first.id
    # Another customer is not a repeat.
    other = await new_ticket(
        tsession, agent, type_code="complaint", customer_id=shop.other_customer.id
    )
    assert not other.is_repeat


async def test_repeat_complaint_same_order_and_window(
    tsession: AsyncSession, make_user: MakeUser, shop: Shop
) -> None:
    agent = actor_of(await make_user(Role.agent))
    await new_ticket(
        tsession, agent, type_code="complaint", order_ids=[shop.order.id],
        now=utcnow() - timedelta(days=45),
    )  # fmt: skip
    outside = await new_ticket(tsession, agent, type_code="complaint", order_ids=[shop.order.id])
    assert not outside.is_repeat  # 45 days ago is outside the 30-day window
    inside = await new_ticket(tsession, agent, type_code="complaint", order_ids=[shop.order.id])
    assert inside.is_repeat


@pytest.mark.parametrize(
    ("role", "amount", "status", "needs"),
    [
        (Role.agent, "50.00", "approved", "agent"),
        (Role.agent, "50.01", "pending", "supervisor"),
        (Role.supervisor, "500", "approved", "supervisor"),
        (Role.supervisor, "800", "pending", "admin"),
        (Role.admin, "20000", "approved", "admin"),
    ],
)
async def test_compensation_limits_by_role(
    tsession: AsyncSession, make_user: MakeUser, role: Role, amount: str, status: str, needs: str
) -> None:
    user = await make_user(role)
    ticket = await new_ticket(tsession, actor_of(user), type_code="complaint")
    comp = await complaints.propose_compensation(
        tsession, actor_of(user), user.role, ticket.id,
        CompensationIn(kind=CompensationKind.refund, amount=Decimal(amount)),
    )  # fmt: skip
    assert (comp.status, comp.required_role) == (status, needs)
    await tsession.commit()


async def test_approval_flow(tsession: AsyncSession, make_user: MakeUser) -> None:
    agent = await make_user(Role.agent)
    supervisor = await make_user(Role.supervisor)
    admin = await make_user(Role.admin)
    ticket = await new_ticket(tsession, actor_of(agent), type_code="complaint")
    big = await complaints.propose_compensation(
        tsession, actor_of(agent), "agent", ticket.id,
        CompensationIn(kind=CompensationKind.coupon, amount=Decimal("600"), description="无门槛券"),
    )  # fmt: skip
    with pytest.raises(Forbidden) as over:
        await complaints.decide_compensation(
            tsession, actor_of(agent), "agent", big.id, approve=True
        )
    assert "超出您的审批额度" in over.value.zh
    with pytest.raises(Forbidden):
        await complaints.decide_compensation(
            tsession, actor_of(supervisor), "supervisor", big.id, approve=True
        )
    await complaints.decide_compensation(
        tsession, actor_of(admin), "admin", big.id, approve=True, note="老客户"
    )
    assert big.status == "approved" and big.decided_by_id == admin.id
    with pytest.raises(Conflict):
        await complaints.decide_compensation(
            tsession, actor_of(admin), "admin", big.id, approve=False
        )
    await tsession.commit()
    actions = (
        await tsession.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == "compensation")
        )
    ).all()
    assert list(actions) == ["compensation.propose", "compensation.approve"]


async def test_complaint_fields_and_follow_up_loop(
    tsession: AsyncSession, make_user: MakeUser
) -> None:
    agent = actor_of(await make_user(Role.agent))
    ticket = await new_ticket(tsession, agent, type_code="complaint", subject="收到空盒")
    await complaints.update_complaint(
        tsession, agent, ticket.id,
        ComplaintIn(severity="major", responsibility="logistics", root_cause="wrong_item",
                    customer_expectation="补发并道歉"),
    )  # fmt: skip
    await service.transition(tsession, agent, ticket.id, TicketStatus.resolved, "已补发")
    visits = [t for t in await service.list_tasks(tsession, ticket.id) if t.kind == "follow_up"]
    assert len(visits) == 1 and visits[0].due_at is not None
    assert visits[0].due_at - utcnow() > timedelta(hours=23)
    with pytest.raises(Conflict) as blocked:
        await service.transition(tsession, agent, ticket.id, TicketStatus.closed)
    assert blocked.value.zh == "投诉工单需先完成回访才能关闭"
    # Not satisfied → the ticket reopens; a second resolution schedules a new visit.
    await service.complete_task(
        tsession, agent, visits[0].id, outcome="还是不满意", satisfied=False
    )
    assert ticket.status == "open"
    await service.transition(tsession, agent, ticket.id, TicketStatus.resolved, "退款 20 元")
    visits = [t for t in await service.list_tasks(tsession, ticket.id) if t.status == "open"]
    await service.complete_task(tsession, agent, visits[0].id, outcome="满意", satisfied=True)
    await service.transition(tsession, agent, ticket.id, TicketStatus.closed)
    await tsession.commit()
    assert ticket.status == "closed"

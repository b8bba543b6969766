"""Ticket rules: numbering, the workflow, SLA clocks and the sweep, search."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.permissions import Role
from kefu.core.audit import Actor, AuditEntry
from kefu.core.db import Database, utcnow
from kefu.core.errors import Conflict, Invalid
from kefu.core.events import pending_events
from kefu.tickets import service, sla
from kefu.tickets import settings as ticket_settings
from kefu.tickets.enums import TicketStatus
from kefu.tickets.models import SlaPolicy, Ticket, TicketTransition
from kefu.tickets.schemas import TicketFilters
from tests.fixtures.factories import MakeUser
from tests.tickets.conftest import Shop, actor_of, new_ticket

SH = ZoneInfo("Asia/Shanghai")
CUSTOMER = Actor("customer", None, "客户")


def cn(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


# ---- numbering ----------------------------------------------------------------------------


async def test_number_uses_shop_date_and_daily_sequence(
    tsession: AsyncSession, make_user: MakeUser
) -> None:
    actor = actor_of(await make_user(Role.agent))
    # 23:30 UTC on 22 Nov is already 23 Nov in Shanghai.
    late = datetime(2026, 11, 22, 23, 30, tzinfo=ZoneInfo("UTC"))
    first = await new_ticket(tsession, actor, now=late)
    second = await new_ticket(tsession, actor, now=late + timedelta(minutes=1))
    next_day = await new_ticket(tsession, actor, now=late + timedelta(days=1))
    assert first.number == "GD20261123-00001"
    assert second.number == "GD20261123-00002"
    assert next_day.number == "GD20261124-00001"


async def test_numbers_are_unique_under_concurrency(db: Database) -> None:
    now = utcnow()

    async def take() -> str:
        async with db.sessionmaker() as s:
            number = await service.next_number(s, now, "Asia/Shanghai", "GD")
            await asyncio.sleep(0)
            await s.commit()
            return number

    numbers = await asyncio.gather(*(take() for _ in range(20)))
    assert len(set(numbers)) == 20
    seqs = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert seqs == list(range(1, 21))


# ---- workflow -----------------------------------------------------------------------------


async def test_valid_transitions_are_audited_with_reason(
    tsession: AsyncSession, make_user: MakeUser
) -> None:
    agent = actor_of(await make_user(Role.agent))
    ticket = await new_ticket(tsession, agent)
    assert ticket.status == "new"
    await service.transition(tsession, agent, ticket.id, TicketStatus.open)
    await service.transition(
        tsession, agent, ticket.id, TicketStatus.pending_internal, "等仓库确认库存"
    )
    await service.transition(tsession, agent, ticket.id, TicketStatus.resolved, "已补发")
    await service.transition(tsession, agent, ticket.id, TicketStatus.closed)
    await tsession.commit()
    rows = (
        await tsession.scalars(
            select(TicketTransition).where(TicketTransition.ticket_id == ticket.id)
        )
    ).all()
    assert [(r.from_status, r.to_status) for r in rows] == [
        ("new", "open"),
        ("open", "pending_internal"),
        ("pending_internal", "resolved"),
        ("resolved", "closed"),
    ]
    assert rows[1].reason == "等仓库确认库存" and rows[1].actor_id == agent.id
    audits = (
        await tsession.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "ticket.transition", AuditEntry.entity_id == str(ticket.id)
            )
        )
    ).all()
    assert len(audits) == 4
    assert audits[1].reason == "等仓库确认库存" and audits[1].actor_name == agent.name


async def test_invalid_transition_refused_in_chinese(
    tsession: AsyncSession, make_user: MakeUser
) -> None:
    agent = actor_of(await make_user(Role.agent))
    ticket = await new_ticket(tsession, agent)
    await service.transition(tsession, agent, ticket.id, TicketStatus.resolved)
    with pytest.raises(Conflict) as refused:
        await service.transition(tsession, agent, ticket.id, TicketStatus.pending_customer)
    assert refused.value.zh == "工单状态不能从「已解决」改为「待客户回复」"
    with pytest.raises(Invalid):  # reopening needs a reason
        await service.transition(tsession, agent, ticket.id, TicketStatus.open)
    await service.transition(tsession, agent, ticket.id, TicketStatus.closed)
    with pytest.raises(Conflict) as closed:
        await service.transition(tsession, agent, ticket.id, TicketStatus.open, "客户要求")
    assert "已关闭" in closed.value.zh


@pytest.mark.parametrize("state", ["pending_customer", "resolved", "closed"])
async def test_customer_reply_reopens(
    tsession: AsyncSession, make_user: MakeUser, state: str
) -> None:
    agent = actor_of(await make_user(Role.agent))
    ticket = await new_ticket(tsession, agent)
    await service.reply_to_customer(tsession, agent, ticket.id, "请提供照片")
    if state == "pending_customer":
        await service.transition(tsession, agent, ticket.id, TicketStatus.pending_customer)
    else:
        await service.transition(tsession, agent, ticket.id, TicketStatus.resolved)
        if state == "closed":
            await service.transition(tsession, agent, ticket.id, TicketStatus.closed)
    await service.record_customer_reply(tsession, CUSTOMER, ticket.id, "还是没收到")
    await tsession.commit()
    await tsession.refresh(ticket)
    assert ticket.status == "open"
    assert ticket.closed_at is None and ticket.resolved_at is None
    assert ticket.next_response_due_at is not None  # we owe the customer an answer
    last = (await service.ticket_transitions(tsession, ticket.id))[-1]
    assert last.to_status == "open" and last.actor_kind == "customer"


async def test_reply_emits_delivery_event_and_counts_first_response(
    tsession: AsyncSession, make_user: MakeUser
) -> None:
    agent = actor_of(await make_user(Role.agent))
    ticket = await new_ticket(tsession, agent, conversation_id=77)
    await service.reply_to_customer(tsession, agent, ticket.id, "已为您催促快递")
    events = pending_events(tsession)
    channels = [(c, p["type"]) for c, p in events]
    assert (f"ticket:{ticket.id}", "ticket.reply_to_customer") in channels
    assert ("conversation:77", "ticket.reply_to_customer") in channels
    await tsession.commit()
    assert ticket.first_responded_at is not None and ticket.status == "open"
    assert ticket.sla_due_kind == "resolution"


async def test_mentions_notify_colleagues(tsession: AsyncSession, make_user: MakeUser) -> None:
    agent = actor_of(await make_user(Role.agent))
    colleague = await make_user(Role.agent, username="wangwu", display_name="王五")
    ticket = await new_ticket(tsession, agent)
    note = await service.add_note(tsession, agent, ticket.id, "@王五 帮忙查一下仓库出库记录")
    assert note.mentions == [colleague.id]
    assert any(
        c == f"agent:{colleague.id}" and p["type"] == "ticket.mentioned"
        for c, p in pending_events(tsession)
    )
    await tsession.commit()


async def test_conversation_one_click_carries_messages(
    tsession: AsyncSession, make_user: MakeUser, shop: Shop
) -> None:
    agent = actor_of(await make_user(Role.agent))
    ticket = await service.create_ticket_from_conversation(
        tsession,
        agent,
        conversation_id=4242,
        customer_id=shop.customer.id,
        order_ids=[shop.order.id],
        messages=[
            {"sender": "customer", "body": "收到的杯子是碎的", "id": 1},
            {"sender": "agent", "body": "非常抱歉，麻烦拍照", "sender_name": "小美"},
            {"sender": "customer", "body": "照片已发"},
        ],
    )
    await tsession.commit()
    assert ticket.subject == "收到的杯子是碎的"
    assert ticket.conversation_id == 4242 and ticket.source == "conversation"
    assert ticket.assignee_id == agent.id and ticket.store_id == shop.store.id
    kinds = [(m.kind, m.body) for m in await service.ticket_messages(tsession, ticket.id)]
    assert ("customer", "照片已发") in kinds and ("event", "非常抱歉，麻烦拍照") in kinds
    assert await service.order_ids(tsession, ticket.id) == [shop.order.id]


async def test_required_custom_field_per_type(tsession: AsyncSession, make_user: MakeUser) -> None:
    from kefu.tickets.models import TicketType

    agent = actor_of(await make_user(Role.agent))
    await ticket_settings.ensure_defaults(tsession)
    invoice = await tsession.scalar(select(TicketType).where(TicketType.code == "invoice"))
    assert invoice is not None
    invoice.fields = [{"key": "title", "label": "发票抬头", "required": True}]
    await tsession.commit()
    with pytest.raises(Invalid) as missing:
        await new_ticket(tsession, agent, type_code="invoice")
    assert missing.value.zh == "请填写「发票抬头」"
    await tsession.rollback()
    ok = await new_ticket(
        tsession, agent, type_code="invoice", custom_fields={"title": "杭州某某公司"}
    )
    assert ok.custom_fields == {"title": "杭州某某公司"}


# ---- SLA ----------------------------------------------------------------------------------


async def test_due_times_in_business_hours(tsession: AsyncSession, make_user: MakeUser) -> None:
    agent = actor_of(await make_user(Role.agent))
    # Friday 17:00 Shanghai, normal priority: first response 240 business minutes.
    ticket = await new_ticket(tsession, agent, now=cn(2026, 11, 27, 17))
    assert ticket.first_response_due_at == cn(2026, 11, 30, 12)
    assert ticket.sla_due_kind == "first_response" and ticket.sla_due_at == cn(2026, 11, 30, 12)
    # Warning at 80%: 48 business minutes before the due time.
    assert ticket.sla_warn_at == cn(2026, 11, 30, 11, 12)


async def test_vip_tier_policy_is_stricter(
    tsession: AsyncSession, make_user: MakeUser, shop: Shop
) -> None:
    agent = actor_of(await make_user(Role.agent))
    ticket = await new_ticket(
        tsession, agent, customer_id=shop.other_customer.id, now=cn(2026, 11, 23, 10)
    )
    assert ticket.customer_tier == "vip"
    assert ticket.first_response_due_at == cn(2026, 11, 23, 11)


async def test_pause_while_pending_customer(tsession: AsyncSession, make_user: MakeUser) -> None:
    agent = actor_of(await make_user(Role.agent))
    ticket = await new_ticket(tsession, agent, now=cn(2026, 11, 23, 10))
    resolution_due = ticket.resolution_due_at
    # 1440 business minutes = 24h: Monday 8h + Tuesday 9h + Wednesday 7h.
    assert resolution_due == cn(2026, 11, 25, 16)
    await service.reply_to_customer(
        tsession, agent, ticket.id, "请补充照片", status=TicketStatus.pending_customer,
        now=cn(2026, 11, 23, 11),
    )  # fmt: skip
    assert ticket.sla_paused_at == cn(2026, 11, 23, 11)
    assert sla.sla_state(ticket, cn(2026, 12, 31)) == "paused"
    # The customer answers the next day at 11:00: 9 business hours passed while waiting.
    await service.record_customer_reply(
        tsession, CUSTOMER, ticket.id, "照片", now=cn(2026, 11, 24, 11)
    )
    await tsession.commit()
    assert ticket.status == "open" and ticket.sla_paused_at is None
    # Monday 11–18 and Tuesday 9–11 (9h) do not count: resolution moves to Thursday 16:00.
    assert ticket.resolution_due_at == cn(2026, 11, 26, 16)
    # Next response: 480 business minutes from Tuesday 11:00 → Wednesday 10:00.
    assert ticket.next_response_due_at == cn(2026, 11, 25, 10)
    assert ticket.sla_due_kind == "next_response"


async def test_sweep_escalates_once_even_when_run_twice(
    db: Database, tsession: AsyncSession, make_user: MakeUser
) -> None:
    agent = actor_of(await make_user(Role.agent))
    supervisor = await make_user(Role.supervisor)
    ticket = await new_ticket(tsession, agent, now=utcnow() - timedelta(days=10))
    assert ticket.sla_due_at is not None and ticket.sla_due_at < utcnow()

    async def run() -> sla.SweepResult:
        async with db.sessionmaker() as s:
            result = await sla.sweep(s)
            events = pending_events(s)
            await s.commit()
            if result.breached:
                assert any(c == f"agent:{supervisor.id}" for c, _ in events)
            return result

    results = await asyncio.gather(run(), run())
    again = await run()
    assert sum(r.breached for r in results) + again.breached == 1
    async with db.sessionmaker() as s:
        fresh = await s.get(Ticket, ticket.id)
        assert fresh is not None
        assert fresh.priority == "high"  # the normal policy raises priority one step
        assert fresh.breached and fresh.escalation_level == 1
        breaches = await s.scalar(
            select(func.count()).where(
                AuditEntry.action == "ticket.sla_breach", AuditEntry.entity_id == str(ticket.id)
            )
        )
        assert breaches == 1


async def test_sweep_skips_paused_and_acts_on_next_target(
    db: Database, tsession: AsyncSession, make_user: MakeUser
) -> None:
    agent = actor_of(await make_user(Role.agent))
    past = utcnow() - timedelta(days=10)
    paused = await new_ticket(tsession, agent, now=past)
    await service.transition(tsession, agent, paused.id, TicketStatus.pending_customer)
    await tsession.commit()
    async with db.sessionmaker() as s:
        assert (await sla.sweep(s)).breached == 0
        await s.commit()
    # The customer answers: the clock resumes and the overdue target is acted upon once.
    await service.record_customer_reply(tsession, CUSTOMER, paused.id, "在吗")
    await tsession.commit()
    async with db.sessionmaker() as s:
        assert (await sla.sweep(s)).breached == 1
        assert (await sla.sweep(s)).breached == 0
        await s.commit()


async def test_breach_reassigns_to_escalation_group(
    db: Database, tsession: AsyncSession, make_user: MakeUser
) -> None:
    from kefu.accounts.models import Group

    agent = actor_of(await make_user(Role.agent))
    group = Group(code="complaint-experts", name="投诉专家组")
    tsession.add(group)
    await ticket_settings.ensure_defaults(tsession)
    urgent = await tsession.scalar(select(SlaPolicy).where(SlaPolicy.priority == "urgent"))
    assert urgent is not None
    await tsession.flush()
    urgent.escalate_group_id = group.id
    await tsession.commit()
    ticket = await new_ticket(
        tsession, agent, priority="urgent", assignee_id=agent.id, now=utcnow() - timedelta(days=5)
    )
    async with db.sessionmaker() as s:
        await sla.sweep(s)
        await s.commit()
        fresh = await s.get(Ticket, ticket.id)
        assert fresh is not None and fresh.group_id == group.id and fresh.assignee_id is None


async def test_warning_before_breach(
    db: Database, tsession: AsyncSession, make_user: MakeUser
) -> None:
    agent = actor_of(await make_user(Role.agent))
    ticket = await new_ticket(tsession, agent, assignee_id=agent.id)
    assert ticket.sla_warn_at is not None and ticket.sla_due_at is not None
    moment = ticket.sla_warn_at + (ticket.sla_due_at - ticket.sla_warn_at) / 2
    async with db.sessionmaker() as s:
        result = await sla.sweep(s, now=moment)
        assert (result.warned, result.breached) == (1, 0)
        assert any(p["type"] == "ticket.sla_warning" for _, p in pending_events(s))
        assert (await sla.sweep(s, now=moment)).warned == 0
        await s.commit()


# ---- search and lists ---------------------------------------------------------------------


@pytest.mark.parametrize("direct_limit", [2000, 0])
async def test_chinese_search_over_subject_description_messages_notes(
    tsession: AsyncSession, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch, direct_limit: int
) -> None:
    # Both strategies (fetch the few matching ids / walk the list checking each row) agree.
    from kefu.tickets import search

    monkeypatch.setattr(search, "DIRECT_IDS_LIMIT", direct_limit)
    agent = actor_of(await make_user(Role.agent))
    broken = await new_ticket(tsession, agent, subject="杯子破损", description="外包装破损严重")
    late = await new_ticket(tsession, agent, subject="物流延迟", description="顺丰三天没更新")
    invoice = await new_ticket(tsession, agent, subject="开发票", description="公司抬头")
    await service.add_note(tsession, agent, invoice.id, "财务说增值税专用发票下周开")
    await service.record_customer_reply(tsession, CUSTOMER, late.id, "我要申请退款")
    await tsession.commit()

    async def find(q: str) -> set[int]:
        rows, _ = await service.list_tickets(
            tsession, TicketFilters(q=q, status="all"), user_id=agent.id
        )
        return {t.id for t in rows}

    assert await find("破损") == {broken.id}
    assert await find("顺丰") == {late.id}
    assert await find("退款") == {late.id}  # from the customer's message
    assert await find("专用发票") == {invoice.id}  # from an internal note
    assert await find("破损 顺丰") == set()  # every word must match
    assert await find("！！") == {broken.id, late.id, invoice.id}  # no words: no filter


async def test_list_filters_and_bulk_actions(tsession: AsyncSession, make_user: MakeUser) -> None:
    from kefu.tickets.schemas import BulkIn

    agent_user = await make_user(Role.agent)
    agent = actor_of(agent_user)
    a = await new_ticket(tsession, agent, priority="urgent", tags=["加急"])
    b = await new_ticket(tsession, agent, type_code="logistics")
    c = await new_ticket(tsession, agent)
    await service.transition(tsession, agent, c.id, TicketStatus.resolved)
    await tsession.commit()

    async def ids(**filters: object) -> list[int]:
        parsed = TicketFilters(**filters)
        rows, _ = await service.list_tickets(tsession, parsed, user_id=agent_user.id)
        return [t.id for t in rows]

    assert await ids() == [b.id, a.id]  # active only, newest first
    assert await ids(priority="urgent") == [a.id]
    assert await ids(tag="加急") == [a.id]
    assert await ids(type_code="logistics") == [b.id]
    assert await ids(status="resolved") == [c.id]
    result = await service.bulk_action(
        tsession,
        agent,
        BulkIn(
            ticket_ids=[a.id, b.id, c.id], action="status", status=TicketStatus.pending_internal
        ),
    )
    assert result.done == [a.id, b.id] and c.id in result.failed
    await service.bulk_action(
        tsession, agent, BulkIn(ticket_ids=[a.id, b.id], action="assign", assignee_id=agent.id)
    )
    await service.bulk_action(tsession, agent, BulkIn(ticket_ids=[b.id], action="tag", tag="仓库"))
    await tsession.commit()
    assert await ids(assignee="me") == [b.id, a.id]
    assert await ids(tag="仓库") == [b.id]
    assert (await ids(sort="priority"))[0] == a.id
    assert re.match(r"GD\d{8}-\d{5}", a.number)

"""Complaints (投诉): the record, risk and repeat detection, compensation approval, follow-up.

A 投诉 ticket gets a Complaint row when it is created (or changed to that type). Two checks
run then and on every later customer message:
- high risk: any configured word (default 12315 / 工商 / 律师 / 曝光) marks the ticket
  high-risk and raises it to urgent — these customers are about to go to a regulator,
  a lawyer or the press;
- repeat: another complaint from the same customer, or about the same order, within the
  window (default 30 days) marks it a repeat, raises priority and notifies supervisors.

Compensation proposals carry a value in yuan. A proposal within the proposer's own limit
(agent ≤ ¥50, supervisor ≤ ¥500, admin unlimited by default) is approved at once; above it
waits for someone whose limit covers it. Every step is audited.

Resolving a complaint schedules a follow-up visit (回访) task, due after the configured delay
(default next day); a complaint cannot be closed while that visit is open, and a "not
satisfied" result reopens the ticket.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import User
from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, Forbidden, Invalid, NotFound
from kefu.core.events import queue_event
from kefu.tickets import settings as ticket_settings
from kefu.tickets.enums import COMPENSATION_LABELS, ROOT_CAUSES, CompensationStatus, TicketStatus
from kefu.tickets.models import (
    Compensation,
    Complaint,
    Ticket,
    TicketMessage,
    TicketTask,
    ticket_orders,
)
from kefu.tickets.schemas import CompensationIn, ComplaintIn

ROLE_ORDER = ["agent", "supervisor", "admin"]
ROLE_LABELS_ZH = {"agent": "客服专员", "supervisor": "客服主管", "admin": "管理员"}


def risk_words_in(text: str, words: list[str]) -> list[str]:
    return [w for w in words if w and w in text]


async def _notify_supervisors(session: AsyncSession, payload: dict[str, object]) -> None:
    rows = await session.scalars(
        select(User.id).where(User.role.in_(("supervisor", "admin")), User.is_active.is_(True))
    )
    for uid in rows.all():
        queue_event(session, f"agent:{uid}", payload)


async def get_complaint(session: AsyncSession, ticket_id: int) -> Complaint | None:
    return await session.scalar(select(Complaint).where(Complaint.ticket_id == ticket_id))


def _system_note(ticket: Ticket, body: str, now: datetime) -> TicketMessage:
    return TicketMessage(
        ticket_id=ticket.id, kind="event", author_name="系统", body=body, mentions=[],
        created_at=now,
    )  # fmt: skip


async def open_complaint(
    session: AsyncSession, actor: Actor, ticket: Ticket, *, now: datetime | None = None
) -> Complaint:
    now = now or utcnow()
    existing = await get_complaint(session, ticket.id)
    if existing is not None:
        return existing
    settings = await ticket_settings.get_settings(session)
    complaint = Complaint(
        ticket_id=ticket.id, severity="minor", responsibility="undetermined", root_cause="other",
        customer_expectation="", risk_words=[],
    )  # fmt: skip
    session.add(complaint)
    await session.flush()

    window = now - timedelta(days=int(settings.get("repeat_window_days", 30)))
    order_ids = select(ticket_orders.c.order_id).where(ticket_orders.c.ticket_id == ticket.id)
    same_order = select(ticket_orders.c.ticket_id).where(ticket_orders.c.order_id.in_(order_ids))
    conditions: list[ColumnElement[bool]] = [Ticket.id.in_(same_order)]
    if ticket.customer_id is not None:
        conditions.append(Ticket.customer_id == ticket.customer_id)
    earlier = await session.scalar(
        select(Ticket.id)
        .where(
            Ticket.id != ticket.id,
            Ticket.type_code == "complaint",
            Ticket.created_at >= window,
            or_(*conditions),
        )
        .order_by(Ticket.created_at.desc())
        .limit(1)
    )
    if earlier is not None:
        complaint.repeat_of_ticket_id = earlier
        ticket.is_repeat = True
        if ticket.priority in ("low", "normal"):
            ticket.priority = "high"
        session.add(
            _system_note(
                ticket, f"重复投诉：{settings['repeat_window_days']} 天内已有投诉，已升级", now
            )
        )
        await record_audit(
            session, actor, "complaint.repeat", "ticket", ticket.id,
            after={"repeat_of_ticket_id": earlier, "priority": ticket.priority},
            store_id=ticket.store_id,
        )  # fmt: skip
        await _notify_supervisors(
            session,
            {"type": "ticket.repeat_complaint", "ticket_id": ticket.id, "number": ticket.number},
        )
    await scan_risk(session, actor, ticket, f"{ticket.subject}\n{ticket.description}", now=now)
    bodies = await session.scalars(
        select(TicketMessage.body).where(
            TicketMessage.ticket_id == ticket.id, TicketMessage.kind == "customer"
        )
    )
    for body in bodies.all():
        await scan_risk(session, actor, ticket, body, now=now)
    return complaint


async def scan_risk(
    session: AsyncSession, actor: Actor, ticket: Ticket, text: str, *, now: datetime | None = None
) -> list[str]:
    """Mark a complaint high-risk when the text names a regulator, a lawyer or the press."""
    if ticket.type_code != "complaint":
        return []
    settings = await ticket_settings.get_settings(session)
    found = risk_words_in(text, list(settings.get("high_risk_words", [])))
    if not found:
        return []
    complaint = await get_complaint(session, ticket.id)
    if complaint is None:
        return found
    new_words = [w for w in found if w not in (complaint.risk_words or [])]
    if not new_words and ticket.is_high_risk:
        return found
    complaint.risk_words = [*(complaint.risk_words or []), *new_words]
    first_time = not ticket.is_high_risk
    ticket.is_high_risk = True
    before_priority = ticket.priority
    ticket.priority = "urgent"
    if first_time:
        session.add(
            _system_note(ticket, f"高风险投诉：客户提到「{'、'.join(found)}」", now or utcnow())
        )
        await _notify_supervisors(
            session,
            {
                "type": "ticket.high_risk",
                "ticket_id": ticket.id,
                "number": ticket.number,
                "words": found,
            },
        )
    await record_audit(
        session, actor, "complaint.high_risk", "ticket", ticket.id,
        before={"priority": before_priority}, after={"priority": "urgent", "risk_words": found},
        store_id=ticket.store_id, only_changes=False,
    )  # fmt: skip
    await session.flush()
    return found


async def update_complaint(
    session: AsyncSession, actor: Actor, ticket_id: int, data: ComplaintIn
) -> Complaint:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("找不到该工单", "Ticket not found")
    complaint = await get_complaint(session, ticket_id)
    if complaint is None:
        raise Invalid("只有投诉工单才有投诉记录", "Only complaint tickets have a complaint record")
    if data.root_cause is not None and data.root_cause not in ROOT_CAUSES:
        raise Invalid("未知的问题原因", "Unknown root cause")
    before = _complaint_view(complaint)
    for field in ("severity", "responsibility", "root_cause", "customer_expectation"):
        value = getattr(data, field)
        if value is not None:
            setattr(complaint, field, str(value.value if hasattr(value, "value") else value))
    if complaint.severity == "critical" and ticket.priority != "urgent":
        ticket.priority = "urgent"
    await record_audit(
        session, actor, "complaint.update", "ticket", ticket_id, before=before,
        after=_complaint_view(complaint), store_id=ticket.store_id,
    )  # fmt: skip
    await session.flush()
    return complaint


def _complaint_view(c: Complaint) -> dict[str, object]:
    return {
        "severity": c.severity,
        "responsibility": c.responsibility,
        "root_cause": c.root_cause,
        "customer_expectation": c.customer_expectation,
    }


# ---- compensation -------------------------------------------------------------------------


def limit_for(role: str, limits: dict[str, object]) -> Decimal | None:
    """The most a role may approve; None = no limit. Unknown roles may approve nothing."""
    if role not in limits:
        return Decimal("0") if role not in ROLE_ORDER else None
    value = limits[role]
    return None if value is None else Decimal(str(value))


def role_needed(amount: Decimal, limits: dict[str, object]) -> str:
    for role in ROLE_ORDER:
        cap = limit_for(role, limits)
        if cap is None or amount <= cap:
            return role
    return "admin"


async def propose_compensation(
    session: AsyncSession, actor: Actor, role: str, ticket_id: int, data: CompensationIn
) -> Compensation:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("找不到该工单", "Ticket not found")
    if ticket.status == TicketStatus.closed:
        raise Conflict("工单已关闭", "The ticket is closed")
    settings = await ticket_settings.get_settings(session)
    limits = dict(settings["approval_limits"])
    amount = data.amount.quantize(Decimal("0.01"))
    needed = role_needed(amount, limits)
    cap = limit_for(role, limits)
    auto = cap is None or amount <= cap
    now = utcnow()
    comp = Compensation(
        ticket_id=ticket.id,
        kind=data.kind.value,
        amount=amount,
        description=data.description.strip(),
        status=CompensationStatus.approved.value if auto else CompensationStatus.pending.value,
        required_role=needed,
        proposed_by_id=actor.id,
        decided_by_id=actor.id if auto else None,
        decided_at=now if auto else None,
        decision_note="在本人审批额度内" if auto else "",
    )
    session.add(comp)
    await session.flush()
    await record_audit(
        session, actor, "compensation.propose", "compensation", comp.id,
        after={"ticket_id": ticket.id, "kind": comp.kind, "amount": str(amount),
               "status": comp.status, "required_role": needed},
        store_id=ticket.store_id, only_changes=False,
    )  # fmt: skip
    kind_zh = COMPENSATION_LABELS[comp.kind][0]
    waiting = f"（待{ROLE_LABELS_ZH.get(needed, needed)}审批）"
    text = f"提出补偿：{kind_zh} ¥{amount}" + ("（已自动批准）" if auto else waiting)
    session.add(_system_note(ticket, text, now))
    if not auto:
        await _notify_supervisors(
            session,
            {
                "type": "ticket.compensation_pending",
                "ticket_id": ticket.id,
                "compensation_id": comp.id,
            },
        )
    return comp


async def decide_compensation(
    session: AsyncSession,
    actor: Actor,
    role: str,
    compensation_id: int,
    *,
    approve: bool,
    note: str = "",
) -> Compensation:
    comp = await session.get(Compensation, compensation_id)
    if comp is None:
        raise NotFound("找不到该补偿方案", "Compensation not found")
    if comp.status != CompensationStatus.pending:
        raise Conflict("该补偿方案已处理", "This proposal was already decided")
    settings = await ticket_settings.get_settings(session)
    cap = limit_for(role, dict(settings["approval_limits"]))
    if approve and cap is not None and comp.amount > cap:
        raise Forbidden(
            f"超出您的审批额度（¥{cap}），需要{comp.required_role}审批",
            f"Above your approval limit (¥{cap}); needs {comp.required_role}",
        )
    if not approve and cap is not None and comp.amount > cap and role != "admin":
        raise Forbidden("超出您的审批额度，不能驳回", "Above your approval limit")
    comp.status = (CompensationStatus.approved if approve else CompensationStatus.rejected).value
    comp.decided_by_id = actor.id
    comp.decided_at = utcnow()
    comp.decision_note = note.strip()[:300]
    ticket = await session.get(Ticket, comp.ticket_id)
    await record_audit(
        session, actor, "compensation.approve" if approve else "compensation.reject",
        "compensation", comp.id, before={"status": "pending"}, after={"status": comp.status},
        store_id=ticket.store_id if ticket else None, reason=comp.decision_note or None,
    )  # fmt: skip
    if ticket is not None:
        verdict = "批准" if approve else "驳回"
        note_text = f"：{comp.decision_note}" if comp.decision_note else ""
        session.add(_system_note(ticket, f"{verdict}补偿 ¥{comp.amount}{note_text}", utcnow()))
        if comp.proposed_by_id:
            queue_event(
                session,
                f"agent:{comp.proposed_by_id}",
                {"type": "ticket.compensation_decided", "ticket_id": ticket.id,
                 "compensation_id": comp.id, "status": comp.status},
            )  # fmt: skip
    await session.flush()
    return comp


async def list_compensations(session: AsyncSession, ticket_id: int) -> list[Compensation]:
    rows = await session.scalars(
        select(Compensation).where(Compensation.ticket_id == ticket_id).order_by(Compensation.id)
    )
    return list(rows.all())


# ---- follow-up (回访) ----------------------------------------------------------------------


async def on_resolved(session: AsyncSession, actor: Actor, ticket: Ticket, now: datetime) -> None:
    """Resolving a complaint schedules the follow-up visit (once per open visit)."""
    if ticket.type_code != "complaint":
        return
    open_visit = await session.scalar(
        select(TicketTask.id).where(
            TicketTask.ticket_id == ticket.id,
            TicketTask.kind == "follow_up",
            TicketTask.status == "open",
        )
    )
    if open_visit is not None:
        return
    settings = await ticket_settings.get_settings(session)
    task = TicketTask(
        ticket_id=ticket.id,
        title="投诉回访：确认问题已解决并记录满意度",
        assignee_id=ticket.assignee_id,
        group_id=ticket.group_id,
        due_at=now + timedelta(hours=float(settings.get("follow_up_delay_hours", 24))),
        status="open",
        kind="follow_up",
    )
    session.add(task)
    await session.flush()
    await record_audit(
        session, actor, "ticket.follow_up.schedule", "ticket_task", task.id,
        after={"ticket_id": ticket.id, "due_at": task.due_at}, store_id=ticket.store_id,
    )  # fmt: skip


async def check_can_close(session: AsyncSession, ticket: Ticket) -> None:
    if ticket.type_code != "complaint":
        return
    pending = await session.scalar(
        select(TicketTask.id).where(
            TicketTask.ticket_id == ticket.id,
            TicketTask.kind == "follow_up",
            TicketTask.status == "open",
        )
    )
    if pending is not None:
        raise Conflict(
            "投诉工单需先完成回访才能关闭",
            "Finish the follow-up visit before closing a complaint",
            code="follow_up_pending",
        )

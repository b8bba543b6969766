"""Ticket business rules: numbering, creation, the status workflow, assignment, notes,
replies, sub-tasks, bulk actions and the list query.

State changes happen only here; each one records an audit entry, appends to the ticket's
timeline and queues events that go out after commit. Routes (JSON and HTML) call these
functions and never touch the tables themselves.

Numbers look like GD20261123-00012: the date in the shop's time zone and a per-day sequence
taken from `ticket_number_counters` with one atomic `INSERT … ON CONFLICT DO UPDATE …
RETURNING`, which both PostgreSQL and SQLite serialise on the counter row, so concurrent
creations never share a number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import Group, User
from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, Invalid, NotFound
from kefu.core.events import queue_event
from kefu.store.models import Customer, Order, Store
from kefu.tickets import categories, complaints, notify, portal, sla
from kefu.tickets import settings as ticket_settings
from kefu.tickets.enums import (
    ACTIVE_STATUSES,
    DEPARTMENTS,
    PRIORITY_ORDER,
    STATUS_LABELS,
    TRANSITIONS,
    TicketStatus,
)
from kefu.tickets.models import (
    SavedView,
    Ticket,
    TicketMessage,
    TicketTask,
    TicketTransition,
    TicketType,
    ticket_orders,
    ticket_watchers,
)
from kefu.tickets.schemas import (
    BulkIn,
    ConversationMessage,
    TaskIn,
    TicketCreate,
    TicketFilters,
    TicketUpdate,
    clean_tags,
)
from kefu.tickets.search import reindex_ticket, search_condition


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _snapshot(ticket: Ticket) -> dict[str, Any]:
    return {
        "status": ticket.status,
        "priority": ticket.priority,
        "type_code": ticket.type_code,
        "subject": ticket.subject,
        "assignee_id": ticket.assignee_id,
        "group_id": ticket.group_id,
        "tags": list(ticket.tags or []),
        "category_id": ticket.category_id,
        "custom_fields": dict(ticket.custom_fields or {}),
    }


def _event(ticket: Ticket, kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "ticket_id": ticket.id, "number": ticket.number, **extra}


def _status_label(status: str) -> str:
    return STATUS_LABELS.get(status, (status, status))[0]


# ---- lookups ------------------------------------------------------------------------------


async def get_ticket(session: AsyncSession, ticket_id: int, *, for_update: bool = False) -> Ticket:
    stmt = select(Ticket).where(Ticket.id == ticket_id)
    if for_update and _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    ticket = await session.scalar(stmt)
    if ticket is None:
        raise NotFound("找不到该工单", "Ticket not found")
    return ticket


async def list_types(session: AsyncSession, *, active_only: bool = True) -> list[TicketType]:
    await ticket_settings.ensure_defaults(session)
    stmt = select(TicketType).order_by(TicketType.sort, TicketType.id)
    if active_only:
        stmt = stmt.where(TicketType.is_active.is_(True))
    return list((await session.scalars(stmt)).all())


async def _type(session: AsyncSession, code: str) -> TicketType:
    await ticket_settings.ensure_defaults(session)
    found = await session.scalar(select(TicketType).where(TicketType.code == code))
    if found is None or not found.is_active:
        raise Invalid(f"未知的工单类型：{code}", f"Unknown ticket type: {code}")
    return found


def _check_custom_fields(kind: TicketType, values: dict[str, Any]) -> dict[str, Any]:
    known: dict[str, dict[str, Any]] = {str(f.get("key")): f for f in kind.fields or []}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise Invalid(
                f"「{kind.name_zh}」没有自定义字段 {key}", f"Type {kind.code} has no field {key}"
            )
        clean[key] = value if not isinstance(value, str) else value.strip()
    for key, spec in known.items():
        if spec.get("required") and not clean.get(key):
            label = spec.get("label") or key
            raise Invalid(f"请填写「{label}」", f"{label} is required")
    return clean


async def _check_user(session: AsyncSession, user_id: int | None) -> None:
    if user_id is None:
        return
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise Invalid("处理人不存在或已停用", "The assignee does not exist or is disabled")


async def _check_group(session: AsyncSession, group_id: int | None) -> None:
    if group_id is not None and await session.get(Group, group_id) is None:
        raise Invalid("分组不存在", "The group does not exist")


# ---- numbering ----------------------------------------------------------------------------


async def next_number(session: AsyncSession, now: datetime, timezone: str, prefix: str) -> str:
    day = now.astimezone(ZoneInfo(timezone)).strftime("%Y%m%d")
    from kefu.tickets.models import TicketNumberCounter as Counter

    dialect_insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    stmt = (
        dialect_insert(Counter)
        .values(prefix=prefix, day=day, last=1)
        .on_conflict_do_update(index_elements=["prefix", "day"], set_={"last": Counter.last + 1})
        .returning(Counter.last)
    )
    seq = (await session.execute(stmt)).scalar_one()
    return f"{prefix}{day}-{seq:05d}"


# ---- creation -----------------------------------------------------------------------------


async def create_ticket(
    session: AsyncSession,
    actor: Actor,
    data: TicketCreate,
    *,
    source: str = "agent",
    initial_messages: Sequence[ConversationMessage] = (),
    now: datetime | None = None,
    store_id: int | None = None,
) -> Ticket:
    """Create a ticket, start its SLA clock and (for complaints) open its complaint record.

    `store_id` names the shop when neither a customer nor an order does (a web form)."""
    now = now or utcnow()
    settings = await ticket_settings.get_settings(session)
    kind = await _type(session, data.type_code)
    fields = _check_custom_fields(kind, data.custom_fields)
    await _check_user(session, data.assignee_id)
    await _check_group(session, data.group_id)
    await categories.check_category(session, data.category_id)

    customer: Customer | None = None
    if data.customer_id is not None:
        customer = await session.get(Customer, data.customer_id)
        if customer is None:
            raise Invalid("客户不存在", "The customer does not exist")
    orders: list[Order] = []
    if data.order_ids:
        orders = list(
            (await session.scalars(select(Order).where(Order.id.in_(data.order_ids)))).all()
        )
        if len(orders) != len(set(data.order_ids)):
            raise Invalid("关联的订单不存在", "A linked order does not exist")
        if customer is None:
            first_customer = next((o.customer_id for o in orders if o.customer_id), None)
            if first_customer is not None:
                customer = await session.get(Customer, first_customer)
    if customer is not None:
        store_id = customer.store_id
    elif orders:
        store_id = orders[0].store_id
    timezone = settings["business_hours"]["timezone"]
    if store_id is not None:
        store = await session.get(Store, store_id)
        timezone = store.timezone if store is not None else timezone

    number = await next_number(session, now, timezone, settings.get("number_prefix", "GD"))
    ticket = Ticket(
        number=number,
        store_id=store_id,
        customer_id=customer.id if customer else None,
        conversation_id=data.conversation_id,
        type_code=kind.code,
        category_id=data.category_id,
        subject=data.subject,
        description=data.description,
        status=TicketStatus.new.value,
        priority=data.priority.value,
        tags=data.tags,
        custom_fields=fields,
        source=source,
        contact_name=data.contact_name.strip(),
        contact_email=data.contact_email,
        contact_phone=data.contact_phone,
        customer_tier=customer.tier if customer else "normal",
        assignee_id=data.assignee_id,
        group_id=data.group_id if data.group_id is not None else kind.default_group_id,
        created_by_id=actor.id if actor.kind in ("user", "api_token") else None,
        escalation_level=0,
        breached=False,
        is_high_risk=False,
        is_repeat=False,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    if orders:
        await session.execute(
            insert(ticket_orders), [{"ticket_id": ticket.id, "order_id": o.id} for o in orders]
        )
    for message in initial_messages:
        if not message.body.strip():
            continue
        session.add(
            TicketMessage(
                ticket_id=ticket.id,
                kind="customer" if message.sender == "customer" else "event",
                author_name=message.sender_name
                or {"customer": "客户", "agent": "客服", "bot": "机器人"}.get(message.sender, ""),
                body=message.body,
                mentions=[],
                external_ref=None if message.id is None else f"conversation-message:{message.id}",
                created_at=message.sent_at or now,
            )
        )
    clock = await sla.clock_for(session, ticket)
    sla.start_clock(ticket, clock, now)
    await record_audit(
        session,
        actor,
        "ticket.create",
        "ticket",
        ticket.id,
        after={**_snapshot(ticket), "number": number, "source": source},
        store_id=store_id,
        only_changes=False,
    )
    if kind.code == "complaint":
        await complaints.open_complaint(session, actor, ticket, now=now)
    await session.flush()
    await reindex_ticket(session, ticket)
    if source in notify.CUSTOMER_SOURCES:
        await notify.created(session, ticket)
    created = _event(ticket, "ticket.created", subject=ticket.subject)
    if ticket.assignee_id:
        queue_event(session, f"agent:{ticket.assignee_id}", created)
    if ticket.group_id:
        queue_event(session, f"group:{ticket.group_id}", created)
    if store_id:
        queue_event(session, f"store:{store_id}", created)
    return ticket


async def create_ticket_from_conversation(
    session: AsyncSession,
    actor: Actor,
    *,
    conversation_id: int,
    messages: Sequence[ConversationMessage | dict[str, Any]],
    subject: str | None = None,
    type_code: str = "inquiry",
    priority: str = "normal",
    customer_id: int | None = None,
    order_ids: Sequence[int] = (),
    assignee_id: int | None = None,
    group_id: int | None = None,
    description: str = "",
) -> Ticket:
    """One click in the inbox: a ticket carrying the conversation's messages as plain data.

    `messages` are dicts or ConversationMessage with sender (customer|agent|bot|system),
    body, sender_name, sent_at and id; the chat domain passes them, so this module never reads
    conversation tables. The subject defaults to the customer's first message.
    """
    parsed = [
        m if isinstance(m, ConversationMessage) else ConversationMessage(**m) for m in messages
    ]
    first_customer = next((m.body for m in parsed if m.sender == "customer" and m.body), "")
    title = (subject or first_customer or f"会话 #{conversation_id}").strip()
    if len(title) > 60:
        title = title[:59] + "…"
    data = TicketCreate(
        subject=title,
        description=description,
        type_code=type_code,
        priority=priority,
        customer_id=customer_id,
        order_ids=list(order_ids),
        conversation_id=conversation_id,
        assignee_id=assignee_id if assignee_id is not None else actor.id,
        group_id=group_id,
    )
    return await create_ticket(session, actor, data, source="conversation", initial_messages=parsed)


# ---- workflow -----------------------------------------------------------------------------


async def _log_event(session: AsyncSession, ticket: Ticket, actor: Actor, body: str) -> None:
    session.add(
        TicketMessage(
            ticket_id=ticket.id,
            kind="event",
            author_id=actor.id if actor.kind == "user" else None,
            author_name=actor.name,
            body=body,
            mentions=[],
            created_at=utcnow(),
        )
    )


async def _apply_transition(
    session: AsyncSession,
    actor: Actor,
    ticket: Ticket,
    target: TicketStatus,
    reason: str,
    now: datetime,
    *,
    system: bool = False,
) -> None:
    current = TicketStatus(ticket.status)
    if target == current:
        return
    allowed = TRANSITIONS[current]
    if not system and target not in allowed:
        if current == TicketStatus.closed:
            raise Conflict(
                "工单已关闭，不能再更改状态；客户再次来信时会自动重新打开",
                "The ticket is closed; it reopens only when the customer writes again",
                code="invalid_transition",
            )
        raise Conflict(
            f"工单状态不能从「{_status_label(current)}」改为「{_status_label(target)}」",
            f"A ticket cannot go from {current.value} to {target.value}",
            code="invalid_transition",
        )
    if current == TicketStatus.resolved and target == TicketStatus.open and not reason.strip():
        raise Invalid("重新打开工单请填写原因", "Give a reason to reopen the ticket")
    if target == TicketStatus.closed:
        await complaints.check_can_close(session, ticket)
    clock = await sla.clock_for(session, ticket)
    before = ticket.status
    ticket.status = target.value
    if target == TicketStatus.pending_customer:
        sla.pause(ticket, now)
    elif current == TicketStatus.pending_customer:
        sla.resume(ticket, clock, now)
    if target == TicketStatus.resolved:
        ticket.resolved_at = now
        ticket.sla_paused_at = None
    elif target == TicketStatus.closed:
        ticket.closed_at = now
        ticket.sla_paused_at = None
    elif current in (TicketStatus.resolved, TicketStatus.closed):
        ticket.resolved_at = None
        ticket.closed_at = None
    sla.refresh_due(ticket, clock, now)
    ticket.updated_at = now
    session.add(
        TicketTransition(
            ticket_id=ticket.id,
            from_status=before,
            to_status=target.value,
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_name=actor.name,
            reason=reason[:500],
            at=now,
        )
    )
    await record_audit(
        session,
        actor,
        "ticket.transition",
        "ticket",
        ticket.id,
        before={"status": before},
        after={"status": target.value},
        store_id=ticket.store_id,
        reason=reason[:500] or None,
    )
    await notify.status_changed(session, actor, ticket, target.value)
    if target == TicketStatus.resolved:
        await complaints.on_resolved(session, actor, ticket, now)
        # The channel sends the customer this link to see the ticket and rate it (CSAT).
        request = _event(ticket, "ticket.csat_request", url=portal.customer_url(ticket.id))
        queue_event(session, f"ticket:{ticket.id}", request)
        if ticket.conversation_id is not None:
            queue_event(session, f"conversation:{ticket.conversation_id}", request)
    queue_event(
        session, f"ticket:{ticket.id}", _event(ticket, "ticket.status", status=target.value)
    )


async def transition(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    status: TicketStatus,
    reason: str = "",
    *,
    now: datetime | None = None,
) -> Ticket:
    ticket = await get_ticket(session, ticket_id, for_update=True)
    await _apply_transition(session, actor, ticket, status, reason, now or utcnow())
    await session.flush()
    return ticket


async def assign(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    *,
    assignee_id: int | None,
    group_id: int | None,
    reason: str = "",
) -> Ticket:
    ticket = await get_ticket(session, ticket_id, for_update=True)
    await _check_user(session, assignee_id)
    await _check_group(session, group_id)
    before = _snapshot(ticket)
    changed_assignee = assignee_id != ticket.assignee_id
    ticket.assignee_id = assignee_id
    ticket.group_id = group_id
    ticket.updated_at = utcnow()
    await record_audit(
        session, actor, "ticket.assign", "ticket", ticket.id, before=before,
        after=_snapshot(ticket), store_id=ticket.store_id, reason=reason or None,
    )  # fmt: skip
    names = []
    if assignee_id:
        user = await session.get(User, assignee_id)
        names.append(f"处理人：{user.display_name if user else assignee_id}")
    if group_id:
        group = await session.get(Group, group_id)
        names.append(f"分组：{group.name if group else group_id}")
    await _log_event(session, ticket, actor, "转派工单 — " + ("，".join(names) or "取消指派"))
    if changed_assignee and assignee_id:
        queue_event(session, f"agent:{assignee_id}", _event(ticket, "ticket.assigned"))
    if group_id:
        queue_event(session, f"group:{group_id}", _event(ticket, "ticket.assigned"))
    await session.flush()
    return ticket


async def update_ticket(
    session: AsyncSession, actor: Actor, ticket_id: int, data: TicketUpdate
) -> Ticket:
    ticket = await get_ticket(session, ticket_id, for_update=True)
    before = _snapshot(ticket)
    now = utcnow()
    if data.subject is not None:
        ticket.subject = data.subject.strip()
    if data.type_code is not None and data.type_code != ticket.type_code:
        kind = await _type(session, data.type_code)
        ticket.type_code = kind.code
        if kind.code == "complaint":
            await complaints.open_complaint(session, actor, ticket, now=now)
    if data.custom_fields is not None:
        ticket.custom_fields = _check_custom_fields(
            await _type(session, ticket.type_code), data.custom_fields
        )
    if data.category_id is not None:
        # 0 clears the category (None means "leave it as it is").
        await categories.check_category(session, data.category_id or None)
        ticket.category_id = data.category_id or None
    if data.tags is not None:
        ticket.tags = clean_tags(data.tags)
    reprice = data.priority is not None and data.priority.value != ticket.priority
    if data.priority is not None:
        ticket.priority = data.priority.value
    if reprice or (data.type_code is not None and before["type_code"] != ticket.type_code):
        clock = await sla.clock_for(session, ticket)
        sla.start_clock(ticket, clock, now)
    ticket.updated_at = now
    await record_audit(
        session, actor, "ticket.update", "ticket", ticket.id, before=before,
        after=_snapshot(ticket), store_id=ticket.store_id,
    )  # fmt: skip
    await session.flush()
    if data.subject is not None:
        await reindex_ticket(session, ticket)
    return ticket


# ---- notes, replies, customer messages ----------------------------------------------------

_MENTION = re.compile(r"@([\w\u4e00-\u9fff.\-]{1,64})")


async def _mentioned_users(session: AsyncSession, body: str) -> list[User]:
    names = {m.group(1) for m in _MENTION.finditer(body)}
    if not names:
        return []
    rows = await session.scalars(
        select(User).where(
            (User.username.in_(names)) | (User.display_name.in_(names)), User.is_active.is_(True)
        )
    )
    return list(rows.all())


async def add_note(session: AsyncSession, actor: Actor, ticket_id: int, body: str) -> TicketMessage:
    """An internal note; @username or @显示名 notifies that colleague (event on agent:{id})."""
    ticket = await get_ticket(session, ticket_id)
    mentioned = await _mentioned_users(session, body)
    note = TicketMessage(
        ticket_id=ticket.id,
        kind="note",
        author_id=actor.id if actor.kind in ("user", "api_token") else None,
        author_name=actor.name,
        body=body.strip(),
        mentions=[u.id for u in mentioned],
        created_at=utcnow(),
    )
    session.add(note)
    ticket.updated_at = note.created_at
    await session.flush()
    await record_audit(
        session, actor, "ticket.note", "ticket", ticket.id,
        after={"message_id": note.id, "mentions": note.mentions}, store_id=ticket.store_id,
    )  # fmt: skip
    for user in mentioned:
        queue_event(
            session,
            f"agent:{user.id}",
            _event(ticket, "ticket.mentioned", by=actor.name, message_id=note.id),
        )
    queue_event(session, f"ticket:{ticket.id}", _event(ticket, "ticket.note", message_id=note.id))
    await reindex_ticket(session, ticket)
    return note


async def reply_to_customer(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    body: str,
    *,
    status: TicketStatus | None = None,
    now: datetime | None = None,
) -> TicketMessage:
    """Stored as a ticket message; delivery through the original channel listens for the
    `ticket.reply_to_customer` event on `ticket:{id}` (and `conversation:{id}` if linked)."""
    now = now or utcnow()
    ticket = await get_ticket(session, ticket_id, for_update=True)
    if ticket.status == TicketStatus.closed:
        raise Conflict("工单已关闭，不能再回复", "The ticket is closed", code="ticket_closed")
    message = TicketMessage(
        ticket_id=ticket.id,
        kind="reply",
        author_id=actor.id if actor.kind in ("user", "api_token") else None,
        author_name=actor.name,
        body=body.strip(),
        mentions=[],
        created_at=now,
    )
    session.add(message)
    clock = await sla.clock_for(session, ticket)
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now
    ticket.next_response_due_at = None
    if ticket.status == TicketStatus.new and status is None:
        status = TicketStatus.open
    if status is not None and status.value != ticket.status:
        await _apply_transition(session, actor, ticket, status, "", now)
    sla.refresh_due(ticket, clock, now)
    ticket.updated_at = now
    await session.flush()
    await record_audit(
        session, actor, "ticket.reply", "ticket", ticket.id,
        after={"message_id": message.id}, store_id=ticket.store_id,
    )  # fmt: skip
    await notify.reply_sent(session, actor, ticket, message)
    payload = _event(
        ticket,
        "ticket.reply_to_customer",
        message_id=message.id,
        body=message.body,
        conversation_id=ticket.conversation_id,
        customer_id=ticket.customer_id,
        source=ticket.source,
    )
    queue_event(session, f"ticket:{ticket.id}", payload)
    if ticket.conversation_id is not None:
        queue_event(session, f"conversation:{ticket.conversation_id}", payload)
    await reindex_ticket(session, ticket)
    return message


async def record_customer_reply(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    body: str,
    *,
    now: datetime | None = None,
) -> TicketMessage:
    """The customer wrote again: reopen a waiting, resolved or closed ticket and owe a reply."""
    now = now or utcnow()
    ticket = await get_ticket(session, ticket_id, for_update=True)
    message = TicketMessage(
        ticket_id=ticket.id,
        kind="customer",
        author_name=actor.name or "客户",
        body=body.strip(),
        mentions=[],
        created_at=now,
    )
    session.add(message)
    ticket.last_customer_message_at = now
    if ticket.status in (
        TicketStatus.pending_customer,
        TicketStatus.resolved,
        TicketStatus.closed,
    ):
        await _apply_transition(
            session, actor, ticket, TicketStatus.open, "客户回复，自动重新打开", now, system=True
        )
    clock = await sla.clock_for(session, ticket)
    if (
        ticket.first_responded_at is not None
        and clock.policy is not None
        and ticket.next_response_due_at is None
    ):
        ticket.next_response_due_at = clock.calendar.add(now, clock.policy.next_response_minutes)
    sla.refresh_due(ticket, clock, now)
    ticket.updated_at = now
    await session.flush()
    await record_audit(
        session, actor, "ticket.customer_reply", "ticket", ticket.id,
        after={"message_id": message.id}, store_id=ticket.store_id,
    )  # fmt: skip
    await complaints.scan_risk(session, actor, ticket, body)
    if ticket.assignee_id:
        queue_event(
            session,
            f"agent:{ticket.assignee_id}",
            _event(ticket, "ticket.customer_replied", message_id=message.id),
        )
    queue_event(
        session,
        f"ticket:{ticket.id}",
        _event(ticket, "ticket.customer_replied", message_id=message.id),
    )
    await reindex_ticket(session, ticket)
    return message


# ---- watchers and sub-tasks ---------------------------------------------------------------


async def set_watching(
    session: AsyncSession, actor: Actor, ticket_id: int, user_id: int, watching: bool
) -> None:
    ticket = await get_ticket(session, ticket_id)
    await session.execute(
        delete(ticket_watchers).where(
            ticket_watchers.c.ticket_id == ticket.id, ticket_watchers.c.user_id == user_id
        )
    )
    if watching:
        await session.execute(insert(ticket_watchers).values(ticket_id=ticket.id, user_id=user_id))
    await record_audit(
        session, actor, "ticket.watch" if watching else "ticket.unwatch", "ticket", ticket.id,
        after={"user_id": user_id}, store_id=ticket.store_id,
    )  # fmt: skip
    await session.flush()


async def watcher_ids(session: AsyncSession, ticket_id: int) -> list[int]:
    rows = await session.scalars(
        select(ticket_watchers.c.user_id).where(ticket_watchers.c.ticket_id == ticket_id)
    )
    return list(rows.all())


async def department_groups(session: AsyncSession) -> list[Group]:
    """The hand-off departments (物流, 仓储, 技术, 财务), created as groups on first use.

    Inserted with ON CONFLICT DO NOTHING, so two first page views at once do not collide.
    """
    codes = [code for code, _, _ in DEPARTMENTS]
    found = {g.code: g for g in (await session.scalars(select(Group).where(Group.code.in_(codes))))}
    missing = [(code, zh) for code, zh, _en in DEPARTMENTS if code not in found]
    if missing:
        dialect_insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
        now = utcnow()
        await session.execute(
            dialect_insert(Group)
            .values(
                [
                    {"code": code, "name": zh, "description": "工单转交部门", "created_at": now,
                     "updated_at": now}
                    for code, zh in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["code"])
        )  # fmt: skip
        found = {
            g.code: g for g in (await session.scalars(select(Group).where(Group.code.in_(codes))))
        }
    return [found[code] for code in codes]


async def add_task(session: AsyncSession, actor: Actor, ticket_id: int, data: TaskIn) -> TicketTask:
    """Hand part of the work to a department: a sub-task with its own assignee and due time."""
    ticket = await get_ticket(session, ticket_id)
    await _check_user(session, data.assignee_id)
    await _check_group(session, data.group_id)
    if data.due_at is not None and data.due_at.tzinfo is None:
        raise Invalid("截止时间需要带时区", "The due time needs a time zone")
    task = TicketTask(
        ticket_id=ticket.id,
        title=data.title.strip(),
        group_id=data.group_id,
        assignee_id=data.assignee_id,
        due_at=data.due_at,
        status="open",
        kind="handoff",
    )
    session.add(task)
    await session.flush()
    group = await session.get(Group, data.group_id) if data.group_id else None
    await _log_event(
        session, ticket, actor, f"转交{('「' + group.name + '」') if group else ''}：{task.title}"
    )
    await record_audit(
        session, actor, "ticket.task.create", "ticket_task", task.id,
        after={"ticket_id": ticket.id, "title": task.title, "group_id": task.group_id,
               "assignee_id": task.assignee_id, "due_at": task.due_at},
        store_id=ticket.store_id,
    )  # fmt: skip
    if task.assignee_id:
        queue_event(
            session, f"agent:{task.assignee_id}", _event(ticket, "ticket.task", task_id=task.id)
        )
    if task.group_id:
        queue_event(
            session, f"group:{task.group_id}", _event(ticket, "ticket.task", task_id=task.id)
        )
    return task


async def complete_task(
    session: AsyncSession,
    actor: Actor,
    task_id: int,
    *,
    outcome: str = "",
    satisfied: bool | None = None,
) -> TicketTask:
    task = await session.get(TicketTask, task_id)
    if task is None:
        raise NotFound("找不到该子任务", "Task not found")
    if task.status == "done":
        raise Conflict("子任务已完成", "The task is already done")
    if task.kind == "follow_up" and satisfied is None:
        raise Invalid("请记录客户是否满意", "Record whether the customer is satisfied")
    task.status = "done"
    task.done_at = utcnow()
    task.outcome = outcome.strip()
    task.satisfied = satisfied
    ticket = await get_ticket(session, task.ticket_id)
    await record_audit(
        session, actor, "ticket.task.done", "ticket_task", task.id,
        after={"outcome": task.outcome, "satisfied": satisfied}, store_id=ticket.store_id,
    )  # fmt: skip
    label = "回访" if task.kind == "follow_up" else "子任务"
    verdict = "" if satisfied is None else ("（满意）" if satisfied else "（不满意）")
    await _log_event(session, ticket, actor, f"{label}完成{verdict}：{task.title} {task.outcome}")
    if task.kind == "follow_up" and satisfied is False and ticket.status in ("resolved", "closed"):
        await _apply_transition(
            session, actor, ticket, TicketStatus.open, "回访客户不满意，重新打开", utcnow(),
            system=True,
        )  # fmt: skip
    await session.flush()
    return task


async def list_tasks(session: AsyncSession, ticket_id: int) -> list[TicketTask]:
    rows = await session.scalars(
        select(TicketTask).where(TicketTask.ticket_id == ticket_id).order_by(TicketTask.id)
    )
    return list(rows.all())


# ---- bulk actions -------------------------------------------------------------------------


@dataclass
class BulkResult:
    done: list[int]
    failed: dict[int, str]


async def bulk_action(session: AsyncSession, actor: Actor, data: BulkIn) -> BulkResult:
    """Apply one action to many tickets; a ticket that refuses (e.g. an invalid transition)
    is reported and skipped, the others still change."""
    result = BulkResult([], {})
    for ticket_id in dict.fromkeys(data.ticket_ids):
        try:
            async with session.begin_nested():
                if data.action == "assign":
                    await assign(
                        session, actor, ticket_id,
                        assignee_id=data.assignee_id, group_id=data.group_id,
                    )  # fmt: skip
                elif data.action == "status":
                    if data.status is None:
                        raise Invalid("请选择状态", "Choose a status")
                    await transition(session, actor, ticket_id, data.status, data.reason)
                else:
                    tag = (data.tag or "").strip()
                    if not tag:
                        raise Invalid("请填写标签", "Enter a tag")
                    ticket = await get_ticket(session, ticket_id)
                    tags = list(ticket.tags or [])
                    if data.action == "tag" and tag not in tags:
                        tags.append(tag)
                    elif data.action == "untag" and tag in tags:
                        tags.remove(tag)
                    await update_ticket(session, actor, ticket_id, TicketUpdate(tags=tags))
            result.done.append(ticket_id)
        except (Conflict, Invalid, NotFound) as exc:
            result.failed[ticket_id] = exc.zh
    return result


# ---- the list -----------------------------------------------------------------------------

_PRIORITY_RANK = case({p: i for i, p in enumerate(PRIORITY_ORDER)}, value=Ticket.priority, else_=1)


def list_statement(filters: TicketFilters, *, user_id: int | None, dialect: str) -> Any:
    stmt = select(Ticket)
    status = filters.status or "active"
    if status == "active":
        stmt = stmt.where(Ticket.status.in_([s.value for s in ACTIVE_STATUSES]))
    elif status != "all":
        stmt = stmt.where(Ticket.status == status)
    if filters.priority:
        stmt = stmt.where(Ticket.priority == filters.priority)
    if filters.type_code:
        stmt = stmt.where(Ticket.type_code == filters.type_code)
    if filters.assignee == "me":
        stmt = stmt.where(Ticket.assignee_id == user_id)
    elif filters.assignee == "none":
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    elif filters.assignee and filters.assignee.isdigit():
        stmt = stmt.where(Ticket.assignee_id == int(filters.assignee))
    if filters.group_id:
        stmt = stmt.where(Ticket.group_id == filters.group_id)
    if filters.customer_id:
        stmt = stmt.where(Ticket.customer_id == filters.customer_id)
    if filters.high_risk:
        stmt = stmt.where(Ticket.is_high_risk.is_(True))
    if filters.tag:
        if dialect == "postgresql":
            stmt = stmt.where(Ticket.tags.op("@>")(func.jsonb_build_array(filters.tag)))
        else:
            each = func.json_each(Ticket.tags).table_valued("value")
            stmt = stmt.where(
                select(1).select_from(each).where(each.c.value == filters.tag).exists()
            )
    now = utcnow()
    if filters.sla == "breached":
        stmt = stmt.where(Ticket.sla_due_at <= now, Ticket.sla_paused_at.is_(None))
    elif filters.sla == "warning":
        stmt = stmt.where(
            Ticket.sla_warn_at <= now, Ticket.sla_due_at > now, Ticket.sla_paused_at.is_(None)
        )
    elif filters.sla == "paused":
        stmt = stmt.where(Ticket.sla_paused_at.is_not(None))
    orders: dict[str, list[Any]] = {
        "newest": [Ticket.created_at.desc(), Ticket.id.desc()],
        "oldest": [Ticket.created_at.asc(), Ticket.id.asc()],
        "due": [Ticket.sla_due_at.asc().nulls_last(), Ticket.id.asc()],
        "priority": [_PRIORITY_RANK.desc(), Ticket.created_at.desc()],
        "updated": [Ticket.updated_at.desc(), Ticket.id.desc()],
    }
    return stmt.order_by(*orders[filters.sort])


async def list_tickets(
    session: AsyncSession, filters: TicketFilters, *, user_id: int | None
) -> tuple[list[Ticket], bool]:
    """One page of tickets and whether another follows (no COUNT over millions of rows)."""
    stmt = list_statement(filters, user_id=user_id, dialect=_dialect(session))
    if filters.q and filters.q.strip():
        condition = await search_condition(session, filters.q)
        if condition is not None:
            stmt = stmt.where(condition)
    offset = (filters.page - 1) * filters.per_page
    rows = list((await session.scalars(stmt.offset(offset).limit(filters.per_page + 1))).all())
    return rows[: filters.per_page], len(rows) > filters.per_page


async def ticket_messages(session: AsyncSession, ticket_id: int) -> list[TicketMessage]:
    rows = await session.scalars(
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket_id)
        .order_by(TicketMessage.created_at, TicketMessage.id)
    )
    return list(rows.all())


async def ticket_transitions(session: AsyncSession, ticket_id: int) -> list[TicketTransition]:
    rows = await session.scalars(
        select(TicketTransition)
        .where(TicketTransition.ticket_id == ticket_id)
        .order_by(TicketTransition.at, TicketTransition.id)
    )
    return list(rows.all())


async def order_ids(session: AsyncSession, ticket_id: int) -> list[int]:
    rows = await session.scalars(
        select(ticket_orders.c.order_id).where(ticket_orders.c.ticket_id == ticket_id)
    )
    return list(rows.all())


# ---- saved views --------------------------------------------------------------------------


async def saved_views(session: AsyncSession, user_id: int) -> list[SavedView]:
    rows = await session.scalars(
        select(SavedView)
        .where((SavedView.owner_id == user_id) | SavedView.owner_id.is_(None))
        .order_by(SavedView.name)
    )
    return list(rows.all())


async def save_view(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    filters: dict[str, Any],
    shared: bool,
) -> SavedView:
    name = name.strip()[:60]
    if not name:
        raise Invalid("请给视图起个名字", "Give the view a name")
    allowed = set(TicketFilters.model_fields) - {"page", "per_page"}
    clean = {k: v for k, v in filters.items() if k in allowed and v not in (None, "", False)}
    TicketFilters(**clean)  # refuses values the list would not accept
    view = SavedView(owner_id=None if shared else actor.id, name=name, filters=clean)
    session.add(view)
    await session.flush()
    await record_audit(
        session, actor, "ticket.view.create", "ticket_view", view.id,
        after={"name": name, "filters": clean, "shared": shared},
    )  # fmt: skip
    return view


async def delete_view(
    session: AsyncSession, actor: Actor, view_id: int, *, may_shared: bool
) -> None:
    view = await session.get(SavedView, view_id)
    if view is None or (view.owner_id is not None and view.owner_id != actor.id):
        raise NotFound("找不到该视图", "View not found")
    if view.owner_id is None and not may_shared:
        raise Invalid("共享视图只能由主管删除", "Only supervisors delete shared views")
    await record_audit(
        session, actor, "ticket.view.delete", "ticket_view", view.id,
        before={"name": view.name, "filters": view.filters},
    )  # fmt: skip
    await session.delete(view)
    await session.flush()

"""After-sales case rules: creation through the policy engine, the status workflow, refunds and
reshipments through the store connector, and the list query.

How a case moves (`CASE_TRANSITIONS` in enums.py is the whole state machine):

    requested ─approve→ approved ─refund→ refunded ─close→ closed        (refund only)
                       └────────reship→ reshipped ─close→ closed         (resend)
              ─approve→ awaiting_return ─tracking→ returned ─receive→ received
                        ─inspect→ inspection_passed ─refund / reship→ … ─close→ closed
              ─reject→ rejected;   refused (policy said no at creation)

Every change goes through `_move`, which checks the table, logs a case event, writes the
audit entry, queues an event for `store:{id}` and tells the buyer. Agents may go against the
policy engine only with a reason (`override_decision`), audited as `aftersales.policy_override`
with the engine's decision before and the agent's after.

Money: a case refunds `refund_cents` (the policy's `max_refundable_amount`, or an approver's
amount within `refund_cap`), split over its lines and the outbound shipping. Each part is paid
by the connector under the key `aftersales:<case>:<part>`, so a retried or concurrent refund
of the same case is answered from the first one and never pays twice; the connector's guarded
UPDATE keeps the order's refunds within what was paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.aftersales import notify
from kefu.aftersales.enums import (
    CASE_STATUS_LABELS,
    CASE_TRANSITIONS,
    OPEN_CASE_STATUSES,
    RESHIP_KINDS,
    RETURN_KINDS,
    SHOP_TODO_STATUSES,
    CaseSource,
    CaseStatus,
    RequestKind,
    RequestReason,
)
from kefu.aftersales.models import (
    AftersalesCase,
    AftersalesCaseLine,
    AftersalesEvent,
)
from kefu.aftersales.policy import (
    AftersalesRequest,
    ConditionReport,
    PolicyDecision,
    RequestLine,
    evaluate_request,
    override_decision,
    policy_order_from_store,
    settings_for_store,
)
from kefu.aftersales.refunds import allocate, from_cents, to_cents
from kefu.aftersales.schemas import CaseCreate, CaseFilters, CaseLineIn, OverrideIn
from kefu.aftersales.settings import AftersalesPolicySettings
from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, Invalid, KefuError, NotFound
from kefu.core.events import queue_event
from kefu.store.connector import get_connector
from kefu.store.models import Customer, Order, OrderItem, Product, Refund, Store
from kefu.tickets.service import next_number

NUMBER_PREFIX = "SH"

# Statuses in which a case no longer holds the goods it named.
_INACTIVE = frozenset({CaseStatus.refused, CaseStatus.rejected, CaseStatus.closed})


class InvalidTransition(KefuError):
    status, code = 409, "aftersales_invalid_transition"
    zh, en = "售后单当前状态不允许此操作", "The case's status does not allow this"


class CaseNotFound(NotFound):
    code = "aftersales_case_not_found"
    zh, en = "售后单不存在", "After-sales case not found"


def _label(status: str) -> tuple[str, str]:
    return CASE_STATUS_LABELS.get(status, (status, status))


def _yuan(cents: int) -> str:
    return f"¥{from_cents(cents):.2f}"


# ---- reading ------------------------------------------------------------------------------


async def get_case(
    session: AsyncSession, case_id: int, *, for_update: bool = False
) -> AftersalesCase:
    stmt = select(AftersalesCase).where(AftersalesCase.id == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    case = await session.scalar(stmt.execution_options(populate_existing=for_update))
    if case is None:
        raise CaseNotFound()
    return case


async def case_lines(session: AsyncSession, case_id: int) -> list[AftersalesCaseLine]:
    rows = await session.scalars(
        select(AftersalesCaseLine)
        .where(AftersalesCaseLine.case_id == case_id)
        .order_by(AftersalesCaseLine.id)
    )
    return list(rows.all())


async def case_events(
    session: AsyncSession, case_id: int, *, customer_only: bool = False
) -> list[AftersalesEvent]:
    stmt = select(AftersalesEvent).where(AftersalesEvent.case_id == case_id)
    if customer_only:
        stmt = stmt.where(AftersalesEvent.customer_visible.is_(True))
    rows = await session.scalars(stmt.order_by(AftersalesEvent.id))
    return list(rows.all())


async def cases_for_order(session: AsyncSession, order_id: int) -> list[AftersalesCase]:
    rows = await session.scalars(
        select(AftersalesCase)
        .where(AftersalesCase.order_id == order_id)
        .order_by(AftersalesCase.id.desc())
    )
    return list(rows.all())


def overdue_condition(now: datetime) -> Any:
    return or_(
        and_(
            AftersalesCase.status == CaseStatus.requested.value,
            AftersalesCase.answer_due_at <= now,
        ),
        and_(
            AftersalesCase.status == CaseStatus.awaiting_return.value,
            AftersalesCase.return_due_at <= now,
        ),
    )


def is_overdue(case: AftersalesCase, now: datetime) -> bool:
    if case.status == CaseStatus.requested and case.answer_due_at is not None:
        return case.answer_due_at <= now
    if case.status == CaseStatus.awaiting_return and case.return_due_at is not None:
        return case.return_due_at <= now
    return False


async def list_cases(
    session: AsyncSession, filters: CaseFilters, now: datetime | None = None
) -> tuple[list[AftersalesCase], bool]:
    now = now or utcnow()
    stmt = select(AftersalesCase)
    status = filters.status
    if status is None or status == "open":
        stmt = stmt.where(AftersalesCase.status.in_([s.value for s in OPEN_CASE_STATUSES]))
    elif status == "todo":
        stmt = stmt.where(AftersalesCase.status.in_([s.value for s in SHOP_TODO_STATUSES]))
    elif status != "all":
        stmt = stmt.where(AftersalesCase.status == status)
    if filters.kind is not None:
        stmt = stmt.where(AftersalesCase.kind == filters.kind.value)
    if filters.overdue:
        stmt = stmt.where(overdue_condition(now))
    if filters.store_id is not None:
        stmt = stmt.where(AftersalesCase.store_id == filters.store_id)
    if filters.order_id is not None:
        stmt = stmt.where(AftersalesCase.order_id == filters.order_id)
    if filters.customer_id is not None:
        stmt = stmt.where(AftersalesCase.customer_id == filters.customer_id)
    if filters.q:
        term = filters.q.strip()
        order_ids = select(Order.id).where(Order.order_no == term)
        stmt = stmt.where(
            or_(
                AftersalesCase.number == term.upper(),
                AftersalesCase.return_tracking_no == term,
                AftersalesCase.order_id.in_(order_ids),
            )
        )
    stmt = (
        stmt.order_by(AftersalesCase.id.desc())
        .offset((filters.page - 1) * filters.per_page)
        .limit(filters.per_page + 1)
    )
    rows = list((await session.scalars(stmt)).all())
    return rows[: filters.per_page], len(rows) > filters.per_page


async def expected_returns(session: AsyncSession) -> list[AftersalesCase]:
    """The warehouse's work: parcels on their way back, and parcels received but not checked."""
    rows = await session.scalars(
        select(AftersalesCase)
        .where(
            AftersalesCase.status.in_(
                [CaseStatus.awaiting_return, CaseStatus.returned, CaseStatus.received]
            )
        )
        .order_by(AftersalesCase.status.desc(), AftersalesCase.return_shipped_at, AftersalesCase.id)
        .limit(500)
    )
    return list(rows.all())


# ---- the policy -----------------------------------------------------------------------------


@dataclass
class OrderContext:
    store: Store
    order: Order
    items: list[OrderItem]
    customer: Customer | None
    settings: AftersalesPolicySettings
    refunds: list[Refund]
    held_elsewhere: dict[int, int]


def _consumes_units(case: AftersalesCase) -> bool:
    """Whether a case takes units out of the buyer's hands (so they cannot be asked twice)."""
    if case.kind in (RequestKind.resend, RequestKind.exchange, RequestKind.repair):
        return False
    if case.reason == RequestReason.price_protection:
        return False
    if case.status in _INACTIVE:
        return case.status == CaseStatus.closed and case.refunded_cents > 0
    return True


async def load_order_context(
    session: AsyncSession,
    order_id: int,
    *,
    store_id: int | None = None,
    exclude_case_id: int | None = None,
) -> OrderContext:
    order = await session.get(Order, order_id)
    if order is None or (store_id is not None and order.store_id != store_id):
        raise NotFound("订单不存在", "Order not found")
    store = await session.get(Store, order.store_id)
    assert store is not None  # foreign key
    items = list(
        (
            await session.scalars(
                select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)
            )
        ).all()
    )
    customer = await session.get(Customer, order.customer_id) if order.customer_id else None
    refunds = list((await session.scalars(select(Refund).where(Refund.order_id == order.id))).all())
    held: dict[int, int] = {}
    others = (
        await session.execute(
            select(AftersalesCase, AftersalesCaseLine)
            .join(AftersalesCaseLine, AftersalesCaseLine.case_id == AftersalesCase.id)
            .where(AftersalesCase.order_id == order.id)
        )
    ).all()
    for other, line in others:
        if other.id != exclude_case_id and _consumes_units(other):
            held[line.order_item_id] = held.get(line.order_item_id, 0) + line.quantity
    return OrderContext(store, order, items, customer, settings_for_store(store), refunds, held)


async def _products(session: AsyncSession, items: Sequence[OrderItem]) -> dict[int, Product]:
    ids = {i.product_id for i in items if i.product_id is not None}
    if not ids:
        return {}
    rows = await session.scalars(select(Product).where(Product.id.in_(ids)))
    return {p.id: p for p in rows.all()}


async def evaluate(
    session: AsyncSession,
    ctx: OrderContext,
    *,
    kind: RequestKind,
    reason: RequestReason,
    lines: Sequence[CaseLineIn],
    requested_at: datetime,
    condition: Sequence[str] = (),
    gifts_returned: bool | None = None,
) -> PolicyDecision:
    known = {i.id for i in ctx.items}
    for line in lines:
        if line.order_item_id not in known:
            raise Invalid(
                f"订单 {ctx.order.order_no} 中没有商品行 {line.order_item_id}",
                f"Line {line.order_item_id} is not on order {ctx.order.order_no}",
            )
    policy_order = policy_order_from_store(
        ctx.order,
        ctx.items,
        products=await _products(session, ctx.items),
        store=ctx.store,
        customer=ctx.customer,
        refunds=ctx.refunds,
        returned_quantities=ctx.held_elsewhere,
    )
    request = AftersalesRequest(
        kind=kind,
        reason=reason,
        lines=tuple(
            RequestLine(
                line_id=str(line.order_item_id),
                quantity=line.quantity,
                amount=line.amount,
                current_unit_price=line.current_unit_price,
            )
            for line in lines
        ),
        requested_at=requested_at,
        condition=ConditionReport.of(condition, gifts_returned=gifts_returned)
        if condition or gifts_returned is not None
        else None,
    )
    return evaluate_request(policy_order, request, ctx.settings)


async def preview(
    session: AsyncSession, data: CaseCreate, *, store_id: int | None = None
) -> PolicyDecision:
    """The decision a request would get now, without creating anything (shown before submit)."""
    ctx = await load_order_context(session, data.order_id, store_id=store_id)
    return await evaluate(
        session,
        ctx,
        kind=data.kind,
        reason=data.reason,
        lines=data.lines,
        requested_at=utcnow(),
        condition=[c.value for c in data.condition],
        gifts_returned=data.gifts_returned,
    )


def _apply_decision(case: AftersalesCase, decision: PolicyDecision) -> None:
    case.decision = decision.to_dict()
    case.decision_allowed = decision.allowed
    case.explanation_zh = decision.explain("zh_CN")
    case.explanation_en = decision.explain("en")
    case.refund_cents = to_cents(decision.max_refundable_amount)
    shipping = to_cents(decision.shipping.outbound_refund) if decision.allowed else 0
    case.shipping_refund_cents = min(shipping, case.refund_cents)
    if decision.override is not None:
        case.override_reason = decision.override.reason
        case.override_by = decision.override.actor_name
        case.override_at = decision.override.at


def _override(
    decision: PolicyDecision, actor: Actor, *, allowed: bool, data: OverrideIn
) -> PolicyDecision:
    return override_decision(
        decision,
        allowed=allowed,
        reason=data.reason,
        actor=actor,
        max_refundable_amount=data.amount if allowed else None,
    )


async def _audit_override(
    session: AsyncSession, actor: Actor, case: AftersalesCase, decision: PolicyDecision
) -> None:
    assert decision.original is not None and decision.override is not None
    await record_audit(
        session,
        actor,
        "aftersales.policy_override",
        "aftersales_case",
        case.id,
        before=decision.original.to_dict(),
        after=decision.to_dict(),
        store_id=case.store_id,
        reason=decision.override.reason,
        only_changes=False,
    )


# ---- the log and the moves ------------------------------------------------------------------


def _snapshot(case: AftersalesCase) -> dict[str, Any]:
    return {
        "status": case.status,
        "refund_cents": case.refund_cents,
        "refunded_cents": case.refunded_cents,
        "return_tracking_no": case.return_tracking_no,
        "decision_allowed": case.decision_allowed,
    }


async def log_event(
    session: AsyncSession,
    case: AftersalesCase,
    actor: Actor,
    action: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str = "",
    customer_visible: bool = True,
) -> AftersalesEvent:
    event = AftersalesEvent(
        case_id=case.id,
        at=utcnow(),
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_name=actor.name or actor.kind,
        note=note,
        customer_visible=customer_visible,
    )
    session.add(event)
    await session.flush()
    return event


def _check_move(case: AftersalesCase, to: CaseStatus) -> CaseStatus:
    current = CaseStatus(case.status)
    if to not in CASE_TRANSITIONS[current]:
        zh_from, en_from = _label(current)
        zh_to, en_to = _label(to)
        raise InvalidTransition(
            f"售后单 {case.number} 当前为「{zh_from}」，不能变为「{zh_to}」",
            f"Case {case.number} is {en_from.lower()}; it cannot become {en_to.lower()}",
        )
    return current


async def _move(
    session: AsyncSession,
    case: AftersalesCase,
    to: CaseStatus,
    actor: Actor,
    *,
    action: str,
    note: str = "",
    tell_customer: str | None = None,
    before: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AftersalesEvent:
    current = _check_move(case, to)
    before = before or _snapshot(case)
    case.status = to.value
    if to is not CaseStatus.requested:
        case.answer_due_at = None
    if to is not CaseStatus.awaiting_return:
        case.return_due_at = None
    if to is CaseStatus.closed:
        case.closed_at = utcnow()
    event = await log_event(
        session, case, actor, action, from_status=current.value, to_status=to.value, note=note
    )
    await record_audit(
        session,
        actor,
        f"aftersales.{action}",
        "aftersales_case",
        case.id,
        before=before,
        after=_snapshot(case),
        store_id=case.store_id,
        reason=reason or (note[:500] if note else None),
    )
    queue_event(
        session,
        f"store:{case.store_id}",
        {
            "type": "aftersales.status_changed",
            "case_id": case.id,
            "number": case.number,
            "status": case.status,
            "from": current.value,
        },
    )
    if tell_customer:
        await notify.notify_customer(session, case, tell_customer, event_id=event.id)
    return event


# ---- creation -------------------------------------------------------------------------------


def _line_value_cents(item: OrderItem, quantity: int) -> int:
    if item.quantity <= 0:
        return 0
    return to_cents(item.paid_amount) * min(quantity, item.quantity) // item.quantity


async def _existing_by_key(session: AsyncSession, store_id: int, key: str) -> AftersalesCase | None:
    found: AftersalesCase | None = await session.scalar(
        select(AftersalesCase).where(
            AftersalesCase.store_id == store_id, AftersalesCase.idempotency_key == key
        )
    )
    return found


@dataclass(frozen=True)
class Created:
    case: AftersalesCase
    created: bool  # False when an idempotent retry found the case made the first time


async def create_case(
    session: AsyncSession,
    actor: Actor,
    data: CaseCreate,
    *,
    source: CaseSource,
    store_id: int | None = None,
    customer_id: int | None = None,
    idempotency_key: str | None = None,
    may_override: bool = False,
    created_by_id: int | None = None,
) -> Created:
    """Open a case. The policy engine decides: allowed → `requested` (awaiting the shop);
    refused → `refused` with the explanation, unless an approver overrides it with a reason,
    which approves the case at once.

    `idempotency_key` (or `data.external_id`) makes a retried creation return the first case.
    """
    ctx = await load_order_context(session, data.order_id, store_id=store_id)
    if customer_id is not None and ctx.order.customer_id != customer_id:
        raise NotFound("订单不存在", "Order not found")
    key = idempotency_key or (f"ext:{data.external_id}" if data.external_id else None)
    if key is not None:
        key = key.strip()[:100]
        found = await _existing_by_key(session, ctx.store.id, key)
        if found is not None:
            if found.order_id != data.order_id or found.kind != data.kind.value:
                raise Conflict(
                    "该幂等键已用于另一张售后单", "This idempotency key was used for another case"
                )
            return Created(found, created=False)
    if data.override is not None and not may_override:
        raise Invalid(
            "只有有审核权限的客服可以改判", "Only approvers may override the policy decision"
        )
    now = utcnow()
    decision = await evaluate(
        session,
        ctx,
        kind=data.kind,
        reason=data.reason,
        lines=data.lines,
        requested_at=now,
        condition=[c.value for c in data.condition],
        gifts_returned=data.gifts_returned,
    )
    engine_allowed = decision.allowed
    if data.override is not None:
        decision = _override(decision, actor, allowed=True, data=data.override)
    number = await next_number(session, now, ctx.store.timezone or "Asia/Shanghai", NUMBER_PREFIX)
    case = AftersalesCase(
        number=number,
        store_id=ctx.store.id,
        order_id=ctx.order.id,
        customer_id=ctx.order.customer_id,
        kind=data.kind.value,
        reason=data.reason.value,
        status=(CaseStatus.requested if decision.allowed else CaseStatus.refused).value,
        description=data.description,
        source=source.value,
        idempotency_key=key,
        external_id=data.external_id,
        return_address=ctx.store.return_address or "",
        conversation_id=data.conversation_id,
        ticket_id=data.ticket_id,
        created_by_id=created_by_id,
        condition=[c.value for c in data.condition],
    )
    _apply_decision(case, decision)
    if decision.allowed:
        case.answer_due_at = now + timedelta(hours=ctx.settings.answer_request_hours)
    if key is not None:
        try:
            async with session.begin_nested():
                session.add(case)
        except IntegrityError:
            # The same key won a race in another transaction: answer with its case.
            found = await _existing_by_key(session, ctx.store.id, key)
            if found is None:
                raise
            return Created(found, created=False)
    else:
        session.add(case)
    await session.flush()
    items = {i.id: i for i in ctx.items}
    per_line = {ld.line_id: to_cents(ld.refund) for ld in decision.lines}
    for line in data.lines:
        item = items[line.order_item_id]
        amount = per_line.get(str(item.id), 0) or _line_value_cents(item, line.quantity)
        session.add(
            AftersalesCaseLine(
                case_id=case.id,
                order_item_id=item.id,
                title=item.title,
                sku_desc=item.sku_desc,
                quantity=line.quantity,
                amount_cents=amount,
            )
        )
    await session.flush()
    event = await log_event(
        session,
        case,
        actor,
        "created",
        to_status=case.status,
        note=case.explanation_zh if not engine_allowed else data.description,
    )
    await record_audit(
        session,
        actor,
        "aftersales.create",
        "aftersales_case",
        case.id,
        after={**_snapshot(case), "number": number, "kind": case.kind, "source": source.value},
        store_id=case.store_id,
    )
    queue_event(
        session,
        f"store:{case.store_id}",
        {"type": "aftersales.created", "case_id": case.id, "number": number},
    )
    if data.override is not None:
        await _audit_override(session, actor, case, decision)
        await approve(session, actor, case.id, note="")
    elif case.status == CaseStatus.requested:
        await notify.notify_customer(
            session,
            case,
            f"您的{_kind_zh(case.kind)}申请已提交，我们会在 "
            f"{ctx.settings.answer_request_hours} 小时内处理。",
            event_id=event.id,
        )
    else:
        await notify.notify_customer(
            session, case, f"您的申请暂不能受理：\n{case.explanation_zh}", event_id=event.id
        )
    return Created(case, created=True)


def _kind_zh(kind: str) -> str:
    from kefu.aftersales.enums import REQUEST_KIND_LABELS

    try:
        return REQUEST_KIND_LABELS[RequestKind(kind)][0]
    except ValueError:
        return kind


# ---- decisions ------------------------------------------------------------------------------


async def _reevaluate(session: AsyncSession, case: AftersalesCase) -> PolicyDecision:
    """The engine's decision on the case as asked (at its original request time), on the
    order as it is now; the base an approver's override is recorded against."""
    ctx = await load_order_context(session, case.order_id, exclude_case_id=case.id)
    lines = [
        CaseLineIn(order_item_id=line.order_item_id, quantity=line.quantity)
        for line in await case_lines(session, case.id)
    ]
    return await evaluate(
        session,
        ctx,
        kind=RequestKind(case.kind),
        reason=RequestReason(case.reason),
        lines=lines,
        requested_at=case.created_at,
        condition=case.condition or [],
    )


async def approve(
    session: AsyncSession,
    actor: Actor,
    case_id: int,
    *,
    note: str = "",
    override: OverrideIn | None = None,
) -> AftersalesCase:
    """Agree to the request. A request the engine refused, or a different amount, needs an
    override with a reason. Goods to come back → `awaiting_return` with a deadline."""
    case = await get_case(session, case_id, for_update=True)
    before = _snapshot(case)
    kind = RequestKind(case.kind)
    target = CaseStatus.awaiting_return if kind in RETURN_KINDS else CaseStatus.approved
    _check_move(case, target)
    if not case.decision_allowed or (override is not None and override.amount is not None):
        if override is None:
            raise Invalid(
                "政策判定不予受理，同意此申请需要填写改判理由",
                "The policy refused this request; approving it needs an override reason",
            )
        decision = _override(await _reevaluate(session, case), actor, allowed=True, data=override)
        _apply_decision(case, decision)
        await _audit_override(session, actor, case, decision)
    ctx_settings = settings_for_store(await session.get(Store, case.store_id))
    if kind in RETURN_KINDS:
        address = case.return_address or "（请联系客服获取退货地址）"
        if kind is not RequestKind.refused_delivery:
            case.return_due_at = utcnow() + timedelta(days=ctx_settings.return_shipment_days)
            tell = (
                f"您的申请已同意。请在 {ctx_settings.return_shipment_days} 天内将商品寄回："
                f"{address}，寄出后填写退货快递单号。"
            )
        else:
            tell = "您的拒收申请已同意，快递退回仓库后我们会尽快处理。"
        await _move(
            session,
            case,
            CaseStatus.awaiting_return,
            actor,
            action="approve",
            note=note or (override.reason if override else ""),
            tell_customer=tell,
            before=before,
        )
    else:
        tell = (
            f"您的申请已同意，将退款 {_yuan(case.refund_cents)}。"
            if kind is RequestKind.refund_only
            else "您的申请已同意，我们会尽快为您安排发货。"
        )
        await _move(
            session,
            case,
            CaseStatus.approved,
            actor,
            action="approve",
            note=note or (override.reason if override else ""),
            tell_customer=tell,
            before=before,
        )
    await session.flush()
    return case


async def reject(session: AsyncSession, actor: Actor, case_id: int, reason: str) -> AftersalesCase:
    """Refuse the request with a reason. Refusing what the engine allowed is an override."""
    text = reason.strip()
    if not text:
        raise Invalid("请填写拒绝理由", "Give a reason for rejecting")
    case = await get_case(session, case_id, for_update=True)
    before = _snapshot(case)
    if case.status != CaseStatus.requested:
        zh, en = _label(case.status)
        raise InvalidTransition(
            f"售后单当前为「{zh}」，不能拒绝", f"The case is {en.lower()}; it cannot be rejected"
        )
    if case.decision_allowed:
        decision = _override(
            await _reevaluate(session, case), actor, allowed=False, data=OverrideIn(reason=text)
        )
        _apply_decision(case, decision)
        await _audit_override(session, actor, case, decision)
    case.rejection_reason = text[:500]
    await _move(
        session,
        case,
        CaseStatus.rejected,
        actor,
        action="reject",
        note=text,
        tell_customer=f"很抱歉，您的申请未通过：{text}",
        before=before,
        reason=text,
    )
    return case


# ---- the return parcel ------------------------------------------------------------------------


async def enter_return_tracking(
    session: AsyncSession, actor: Actor, case_id: int, *, carrier: str, tracking_no: str
) -> AftersalesCase:
    case = await get_case(session, case_id, for_update=True)
    if case.status not in (CaseStatus.awaiting_return, CaseStatus.returned):
        zh, en = _label(case.status)
        raise InvalidTransition(
            f"售后单当前为「{zh}」，不需要填写退货单号",
            f"The case is {en.lower()}; no return tracking number is expected",
        )
    before = _snapshot(case)
    case.return_carrier = carrier.strip()[:40]
    case.return_tracking_no = tracking_no.strip()[:64]
    case.return_shipped_at = case.return_shipped_at or utcnow()
    await _move(
        session,
        case,
        CaseStatus.returned,
        actor,
        action="return_shipped",
        note=f"{case.return_carrier} {case.return_tracking_no}",
        tell_customer=(
            f"已收到您的退货单号 {case.return_carrier} {case.return_tracking_no}，"
            "仓库收货后会尽快验货。"
        )
        if actor.kind != "customer"
        else None,
        before=before,
    )
    return case


async def receive(
    session: AsyncSession, actor: Actor, case_id: int, *, note: str = ""
) -> AftersalesCase:
    case = await get_case(session, case_id, for_update=True)
    case.received_at = utcnow()
    await _move(
        session,
        case,
        CaseStatus.received,
        actor,
        action="receive",
        note=note,
        tell_customer="仓库已收到您寄回的商品，正在验货。",
    )
    return case


async def inspect(
    session: AsyncSession, actor: Actor, case_id: int, *, passed: bool, note: str = ""
) -> AftersalesCase:
    text = note.strip()
    if not passed and not text:
        raise Invalid("验货不通过时请写明问题", "Describe the problem when inspection fails")
    case = await get_case(session, case_id, for_update=True)
    case.inspected_at = utcnow()
    case.inspection_passed = passed
    case.inspection_note = text
    await _move(
        session,
        case,
        CaseStatus.inspection_passed if passed else CaseStatus.inspection_failed,
        actor,
        action="inspect",
        note=text,
        tell_customer="验货通过，我们会尽快为您处理。"
        if passed
        else f"验货未通过：{text}。如有疑问请联系客服。",
    )
    return case


# ---- money and parcels ----------------------------------------------------------------------


def refund_parts(
    case: AftersalesCase, lines: Sequence[AftersalesCaseLine]
) -> list[tuple[str, int | None, int]]:
    """The case's refund split into (idempotency key, order item id or None, cents).

    Shares are proportional to each line's goods money and the outbound shipping, to the cent
    (largest remainder), so the parts always add up to `refund_cents` exactly. The split is a
    pure function of stored values, so a retry computes the same keys and amounts.
    """
    weights = [line.amount_cents for line in lines] + [case.shipping_refund_cents]
    if sum(weights) <= 0:
        weights = [max(line.quantity, 1) for line in lines] + [0]
    shares = allocate(from_cents(case.refund_cents), [from_cents(w) for w in weights])
    parts: list[tuple[str, int | None, int]] = []
    for line, share in zip(lines, shares, strict=False):
        cents = to_cents(share)
        if cents > 0:
            parts.append((f"aftersales:{case.id}:line:{line.id}", line.order_item_id, cents))
    shipping = to_cents(shares[-1])
    if shipping > 0:
        parts.append((f"aftersales:{case.id}:shipping", None, shipping))
    return parts


_REFUNDABLE_FROM = {
    CaseStatus.approved: frozenset({RequestKind.refund_only}),
    CaseStatus.inspection_passed: frozenset(
        {RequestKind.return_refund, RequestKind.refused_delivery}
    ),
    CaseStatus.inspection_failed: frozenset(
        {RequestKind.return_refund, RequestKind.refused_delivery}
    ),
}


async def refund(
    session: AsyncSession,
    actor: Actor,
    case_id: int,
    *,
    override_reason: str | None = None,
    may_override: bool = False,
) -> AftersalesCase:
    """Pay the case's refund through the store connector. Idempotent: a case already refunded
    is returned as it is, and each part carries a fixed key, so nothing is paid twice."""
    case = await get_case(session, case_id, for_update=True)
    if case.status in (CaseStatus.refunded, CaseStatus.closed) and case.refunded_cents > 0:
        return case
    status = CaseStatus(case.status)
    kind = RequestKind(case.kind)
    if kind not in _REFUNDABLE_FROM.get(status, frozenset()):
        zh, en = _label(status)
        raise InvalidTransition(
            f"售后单当前为「{zh}」，不能退款", f"The case is {en.lower()}; it cannot be refunded"
        )
    reason_text = (override_reason or "").strip()
    if status is CaseStatus.inspection_failed:
        if not may_override:
            raise Invalid(
                "验货未通过，只有有审核权限的客服可以坚持退款",
                "Inspection failed; only approvers may refund anyway",
            )
        if not reason_text:
            raise Invalid(
                "验货未通过仍要退款，请填写理由",
                "Give a reason to refund after a failed inspection",
            )
    if case.refund_cents <= 0:
        raise Invalid("该售后单没有可退金额", "This case has nothing to refund")
    before = _snapshot(case)
    store = await session.get(Store, case.store_id)
    assert store is not None
    connector = get_connector(session, store)
    lines = await case_lines(session, case.id)
    paid = 0
    for key, item_id, cents in refund_parts(case, lines):
        await connector.refund(
            case.order_id,
            from_cents(cents),
            reason=f"售后单 {case.number}",
            idempotency_key=key,
            actor=actor,
            item_id=item_id,
        )
        paid += cents
    case.refunded_cents = paid
    await _move(
        session,
        case,
        CaseStatus.refunded,
        actor,
        action="refund",
        note=reason_text or f"退款 {_yuan(paid)}",
        tell_customer=f"已为您退款 {_yuan(paid)}，将原路退回您的付款账户。",
        before=before,
        reason=reason_text or None,
    )
    return case


_RESHIP_FROM = {
    CaseStatus.approved: frozenset({RequestKind.resend}),
    CaseStatus.inspection_passed: frozenset({RequestKind.exchange, RequestKind.repair}),
}


async def reship(
    session: AsyncSession,
    actor: Actor,
    case_id: int,
    *,
    carrier: str = "",
    tracking_no: str = "",
) -> AftersalesCase:
    """Send the replacement (exchange, resend) or the repaired goods back to the buyer."""
    case = await get_case(session, case_id, for_update=True)
    status = CaseStatus(case.status)
    kind = RequestKind(case.kind)
    if kind not in RESHIP_KINDS or kind not in _RESHIP_FROM.get(status, frozenset()):
        zh, en = _label(status)
        raise InvalidTransition(
            f"售后单当前为「{zh}」，不能发货", f"The case is {en.lower()}; nothing to ship now"
        )
    store = await session.get(Store, case.store_id)
    assert store is not None
    result = await get_connector(session, store).reship(
        case.order_id,
        reason=f"售后单 {case.number}",
        actor=actor,
        carrier=carrier,
        tracking_no=tracking_no,
    )
    case.reship_shipment_id = result.data.get("shipment_id")
    await _move(
        session,
        case,
        CaseStatus.reshipped,
        actor,
        action="reship",
        note=result.message_zh,
        tell_customer="您的商品已安排发出，请留意物流信息。",
    )
    return case


async def close(
    session: AsyncSession, actor: Actor, case_id: int, *, reason: str
) -> AftersalesCase:
    text = reason.strip()
    if not text:
        raise Invalid("请填写关闭原因", "Give a reason for closing")
    case = await get_case(session, case_id, for_update=True)
    case.close_reason = text[:500]
    withdrawn = actor.kind == "customer"
    await _move(
        session,
        case,
        CaseStatus.closed,
        actor,
        action="withdraw" if withdrawn else "close",
        note=text,
        tell_customer=None if withdrawn else f"售后单已关闭：{text}",
        reason=text,
    )
    return case


async def add_note(session: AsyncSession, actor: Actor, case_id: int, note: str) -> AftersalesEvent:
    """An internal note on the case's log (never shown to the buyer)."""
    text = note.strip()
    if not text:
        raise Invalid("备注不能为空", "The note is empty")
    case = await get_case(session, case_id)
    event = await log_event(session, case, actor, "note", note=text[:1000], customer_visible=False)
    await record_audit(
        session,
        actor,
        "aftersales.note",
        "aftersales_case",
        case.id,
        after={"event_id": event.id},
        store_id=case.store_id,
    )
    return event


async def count_overdue(session: AsyncSession, now: datetime | None = None) -> int:
    value = await session.scalar(
        select(func.count()).select_from(AftersalesCase).where(overdue_condition(now or utcnow()))
    )
    return int(value or 0)

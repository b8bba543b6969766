"""Agents' actions on the order-service lists: record the customer's answer, ask the customer,
request and complete a merged shipment. Every write is audited; order changes (cancel, note)
go through the store connector, never straight to the order tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, Invalid, NotFound
from kefu.orderservice import messages
from kefu.orderservice.enums import (
    DUPLICATE_OUTCOMES,
    MERGE_OUTCOMES,
    AddressStatus,
    FlagKind,
    FlagStatus,
    StockoutChoice,
)
from kefu.orderservice.models import (
    AddressConfirmation,
    OrderFlag,
    OrderFlagOrder,
    StockoutCase,
    WorkMixin,
)
from kefu.store.connector import ActionResult, NewAddress, get_connector
from kefu.store.enums import OrderStatus
from kefu.store.models import Order, OrderItem, Store

MAX_NOTE = 1000
Kind = str  # "flag" | "stockout" | "address"


class StaleAsk(Conflict):
    code = "stale_ask"
    zh, en = "该顾客刚刚已被询问过，请刷新页面", "The customer was just asked; reload the page"


def _clean_note(note: str) -> str:
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise Invalid(f"备注最多 {MAX_NOTE} 字", f"Notes are at most {MAX_NOTE} characters")
    return text


def _recorded(row: WorkMixin, actor: Actor, note: str) -> None:
    row.recorded_by_id = actor.id if actor.kind == "user" else None
    row.recorded_by_name = actor.name or actor.kind
    row.recorded_at = utcnow()
    if note:
        row.note = note


async def _get(session: AsyncSession, model: Any, row_id: int, zh: str, en: str) -> Any:
    row = await session.get(model, row_id, with_for_update=True)
    if row is None:
        raise NotFound(zh, en)
    return row


async def get_flag(session: AsyncSession, flag_id: int) -> OrderFlag:
    flag: OrderFlag = await _get(session, OrderFlag, flag_id, "标记不存在", "Flag not found")
    return flag


async def flag_order_ids(session: AsyncSession, flag_id: int) -> list[int]:
    rows = await session.scalars(
        select(OrderFlagOrder.order_id)
        .where(OrderFlagOrder.flag_id == flag_id)
        .order_by(OrderFlagOrder.order_id)
    )
    return list(rows.all())


# --- flags ----------------------------------------------------------------------------------


async def resolve_flag(
    session: AsyncSession,
    actor: Actor,
    flag_id: int,
    status: str,
    *,
    note: str = "",
    cancel_order_id: int | None = None,
) -> tuple[OrderFlag, ActionResult | None]:
    """Record how a flag ended. For a duplicate the agent may cancel one of its orders in the
    same step (through the connector: a paid order is refunded in full)."""
    flag = await get_flag(session, flag_id)
    allowed = DUPLICATE_OUTCOMES if flag.kind == FlagKind.duplicate_purchase else MERGE_OUTCOMES
    if status not in {s.value for s in allowed}:
        raise Invalid("该标记不能设为这个结果", "That outcome does not apply to this flag")
    text = _clean_note(note)
    before = {"status": flag.status, "note": flag.note}
    result: ActionResult | None = None
    if status == FlagStatus.cancelled_duplicate:
        if cancel_order_id is None:
            raise Invalid("请选择要取消的订单", "Choose the order to cancel")
        if cancel_order_id not in await flag_order_ids(session, flag.id):
            raise Invalid("只能取消该标记中的订单", "Only an order of this flag can be cancelled")
        store = await session.get(Store, flag.store_id)
        assert store is not None
        result = await get_connector(session, store).cancel_order(
            cancel_order_id, reason="重复购买，买家确认取消", actor=actor
        )
    if status == FlagStatus.merged:
        result = await _note_merge(session, actor, flag)
    flag.status = status
    _recorded(flag, actor, text)
    await session.flush()
    await record_audit(
        session, actor, "order_flag.resolve", "order_flag", flag.id,
        before=before, after={"status": flag.status, "note": flag.note}, store_id=flag.store_id,
    )  # fmt: skip
    return flag, result


async def _note_merge(session: AsyncSession, actor: Actor, flag: OrderFlag) -> ActionResult:
    store = await session.get(Store, flag.store_id)
    assert store is not None
    ids = await flag_order_ids(session, flag.id)
    orders = (await session.scalars(select(Order).where(Order.id.in_(ids)))).all()
    numbers = "、".join(o.order_no for o in sorted(orders, key=lambda o: o.id))
    connector = get_connector(session, store)
    result: ActionResult | None = None
    for order_id in ids:
        result = await connector.add_note(
            order_id, f"{messages.merge_note()}：{numbers}", actor=actor
        )
    assert result is not None
    return result


def _same_address(a: Order, b: Order) -> bool:
    keys = ("receiver_name", "receiver_phone", "province", "city", "district", "address_detail")
    return all(getattr(a, k).strip() == getattr(b, k).strip() for k in keys)


async def mergeable_orders(session: AsyncSession, order: Order) -> list[Order]:
    """The buyer's other paid, unshipped orders going to the same address."""
    if order.customer_id is None or order.status != OrderStatus.WAIT_SELLER_SEND_GOODS:
        return []
    rows = await session.scalars(
        select(Order)
        .where(
            Order.store_id == order.store_id,
            Order.customer_id == order.customer_id,
            Order.status == OrderStatus.WAIT_SELLER_SEND_GOODS.value,
            Order.id != order.id,
        )
        .order_by(Order.placed_at)
    )
    return [o for o in rows.all() if _same_address(o, order)]


async def request_merge(
    session: AsyncSession, actor: Actor, order_ids: Sequence[int], *, note: str = ""
) -> OrderFlag:
    """The customer asked to ship several orders together (两单一起发)."""
    ids = sorted(set(order_ids))
    if len(ids) < 2:
        raise Invalid("合并发货至少需要两笔订单", "Choose at least two orders to merge")
    orders = list((await session.scalars(select(Order).where(Order.id.in_(ids)))).all())
    if len(orders) != len(ids):
        raise NotFound("订单不存在", "Order not found")
    first = orders[0]
    for o in orders:
        if o.status != OrderStatus.WAIT_SELLER_SEND_GOODS:
            raise Invalid(
                f"订单 {o.order_no} 不是待发货状态，不能合并发货",
                f"Order {o.order_no} is not awaiting shipment",
            )
        if o.store_id != first.store_id or o.customer_id != first.customer_id:
            raise Invalid("只能合并同一店铺、同一买家的订单", "Orders must share shop and buyer")
        if not _same_address(o, first):
            raise Invalid(
                f"订单 {o.order_no} 的收货地址不同，不能合并发货",
                f"Order {o.order_no} goes to another address",
            )
    key = "merge:" + ",".join(str(i) for i in ids)
    existing = await session.scalar(
        select(OrderFlag).where(OrderFlag.store_id == first.store_id, OrderFlag.dedupe_key == key)
    )
    if existing is not None:
        return existing
    flag = OrderFlag(
        store_id=first.store_id,
        kind=FlagKind.merge_shipments.value,
        status=FlagStatus.open.value,
        customer_id=first.customer_id,
        dedupe_key=key,
        note=_clean_note(note),
        recorded_by_id=actor.id if actor.kind == "user" else None,
        recorded_by_name=actor.name,
        recorded_at=utcnow(),
    )
    session.add(flag)
    await session.flush()
    session.add_all([OrderFlagOrder(flag_id=flag.id, order_id=i) for i in ids])
    await session.flush()
    await record_audit(
        session, actor, "order_flag.merge_request", "order_flag", flag.id,
        after={"orders": ids, "note": flag.note}, store_id=flag.store_id,
    )  # fmt: skip
    return flag


# --- stock-outs and address tasks -----------------------------------------------------------


async def record_stockout_choice(
    session: AsyncSession, actor: Actor, case_id: int, choice: str, *, note: str = ""
) -> StockoutCase:
    if choice not in StockoutChoice._value2member_map_:
        raise Invalid("请选择：等待、更换或退款", "Choose wait, replace or refund")
    case: StockoutCase = await _get(
        session, StockoutCase, case_id, "缺货记录不存在", "Stock-out case not found"
    )
    before = {"choice": case.choice, "note": case.note}
    case.choice = choice
    _recorded(case, actor, _clean_note(note))
    await session.flush()
    await record_audit(
        session, actor, "stockout.answer", "stockout_case", case.id,
        before=before, after={"choice": case.choice, "note": case.note}, store_id=case.store_id,
    )  # fmt: skip
    return case


async def record_address_answer(
    session: AsyncSession, actor: Actor, task_id: int, status: str, *, note: str = ""
) -> AddressConfirmation:
    if status not in AddressStatus._value2member_map_ or status == AddressStatus.pending:
        raise Invalid("请选择：地址无误、已修改或未回复", "Choose confirmed, changed or no answer")
    task: AddressConfirmation = await _get(
        session, AddressConfirmation, task_id, "地址确认任务不存在", "Address task not found"
    )
    before = {"status": task.status, "note": task.note}
    task.status = status
    _recorded(task, actor, _clean_note(note))
    await session.flush()
    await record_audit(
        session, actor, "address_confirmation.answer", "address_confirmation", task.id,
        before=before, after={"status": task.status, "note": task.note}, store_id=task.store_id,
    )  # fmt: skip
    return task


async def change_address(
    session: AsyncSession, actor: Actor, order_id: int, address: NewAddress
) -> ActionResult:
    """The buyer gave a new address before shipment: change it through the connector (which
    refuses shipped orders) and settle the order's address task as "changed"."""
    order = await session.get(Order, order_id)
    if order is None:
        raise NotFound("订单不存在", "Order not found")
    store = await session.get(Store, order.store_id)
    assert store is not None
    result = await get_connector(session, store).change_address(order.id, address, actor=actor)
    task = await session.scalar(
        select(AddressConfirmation).where(AddressConfirmation.order_id == order.id)
    )
    if task is not None and task.status != AddressStatus.changed:
        await record_address_answer(session, actor, task.id, AddressStatus.changed.value)
    return result


# --- asking the customer --------------------------------------------------------------------


@dataclass(frozen=True)
class AskResult:
    kind: Kind
    id: int
    text: str
    conversation_id: int | None


async def _first_item(session: AsyncSession, order_id: int, sku_id: int | None) -> OrderItem | None:
    stmt = select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.id)
    if sku_id is not None:
        stmt = stmt.where(OrderItem.sku_id == sku_id)
    return (await session.scalars(stmt.limit(1))).first()


async def question_for(session: AsyncSession, kind: Kind, row: Any) -> str:
    """The polite question for a work item (also shown for copying when there is no chat)."""
    if kind == "address":
        order = await session.get(Order, row.order_id)
        assert order is not None
        return messages.address_question(order)
    if kind == "stockout":
        order = await session.get(Order, row.order_id)
        assert order is not None
        item = await session.get(OrderItem, row.order_item_id) if row.order_item_id else None
        return messages.stockout_question(order, item)
    ids = await flag_order_ids(session, row.id)
    orders = sorted(
        (await session.scalars(select(Order).where(Order.id.in_(ids)))).all(),
        key=lambda o: o.placed_at,
    )
    if row.kind == FlagKind.merge_shipments:
        numbers = "、".join(o.order_no for o in orders)
        return (
            f"亲，您好！您的订单 {numbers} 收货地址相同，我们会为您合并成一个包裹发出，"
            "请问可以吗？如需分开发货请告诉我们哦。"
        )
    item = await _first_item(session, orders[-1].id, row.sku_id)
    return messages.duplicate_question(orders[0], orders[-1], item)


_MODELS: dict[Kind, Any] = {
    "flag": OrderFlag,
    "stockout": StockoutCase,
    "address": AddressConfirmation,
}


async def load_item(session: AsyncSession, kind: Kind, row_id: int, *, lock: bool = False) -> Any:
    model = _MODELS.get(kind)
    if model is None:
        raise NotFound("找不到该事项", "No such item")
    row = await session.get(model, row_id, with_for_update=lock)
    if row is None:
        raise NotFound("找不到该事项", "No such item")
    return row


async def ask(
    session: AsyncSession, actor: Actor, kind: Kind, row_id: int, *, ask_no: int | None = None
) -> AskResult:
    """Ask the customer about a work item. `ask_no` is the ask count the agent's page showed;
    a second submit of the same page finds it used and posts nothing twice."""
    row = await load_item(session, kind, row_id, lock=True)
    if ask_no is not None and ask_no < row.ask_count:
        raise StaleAsk()
    text = await question_for(session, kind, row)
    outcome = await messages.ask_customer(
        session,
        actor,
        store_id=row.store_id,
        customer_id=row.customer_id,
        text=text,
        client_msg_id=f"orderservice:{kind}:{row.id}:{row.ask_count + 1}",
    )
    if outcome.conversation_id is not None:
        row.ask_count += 1
        row.asked_at = utcnow()
        row.asked_by_name = actor.name or actor.kind
        await session.flush()
        await record_audit(
            session, actor, f"{_entity(kind)}.ask", _entity(kind), row.id,
            after={"conversation_id": outcome.conversation_id, "ask_count": row.ask_count},
            store_id=row.store_id,
        )  # fmt: skip
    return AskResult(kind, row.id, text, outcome.conversation_id)


def _entity(kind: Kind) -> str:
    return {"flag": "order_flag", "stockout": "stockout_case", "address": "address_confirmation"}[
        kind
    ]

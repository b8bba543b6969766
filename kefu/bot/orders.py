"""What the bot may know and say about orders: identification, lookups and plain-Chinese views.

A customer sees an order's details only when the bot knows the order is theirs: the order
belongs to the customer the shop vouched for (the signed widget identity sets the
conversation's customer), or the customer gave the order number together with the last four
digits of the receiving phone in this chat. Receiver names and phones are never repeated back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bot.models import BotSession
from kefu.store.enums import ORDER_STATUS_LABELS, OrderStatus
from kefu.store.models import LogisticsEvent, Order, OrderItem, Refund, Shipment

RECENT_ORDERS = 5
_BARE_TAIL = re.compile(r"^\D{0,6}(\d{4})\D{0,3}$")
_LOOSE_TAIL = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def status_label(order: Order) -> str:
    try:
        return ORDER_STATUS_LABELS[OrderStatus(order.status)][0]
    except ValueError:
        return order.status


def local(moment: datetime, tz: str) -> datetime:
    try:
        return moment.astimezone(ZoneInfo(tz or "Asia/Shanghai"))
    except (KeyError, ValueError):
        return moment.astimezone(ZoneInfo("Asia/Shanghai"))


def when(moment: datetime, tz: str) -> str:
    at = local(moment, tz)
    return f"{at.month}月{at.day}日 {at:%H:%M}"


def bare_phone_tail(text: str, order_no: str | None = None) -> str | None:
    """Four digits on their own while the bot asks for the phone tail: "5678", "尾号：5678",
    or "202311150001 5678" (order number and tail in one message)."""
    if order_no:
        text = text.replace(order_no, " ")
    found = _BARE_TAIL.match(text.strip()) or _LOOSE_TAIL.search(text)
    return found.group(1) if found else None


async def find_order(session: AsyncSession, store_id: int, order_no: str) -> Order | None:
    found: Order | None = await session.scalar(
        select(Order).where(Order.store_id == store_id, Order.order_no == order_no).limit(1)
    )
    return found


async def recent_orders(
    session: AsyncSession, store_id: int, customer_id: int, limit: int = RECENT_ORDERS
) -> list[Order]:
    return list(
        await session.scalars(
            select(Order)
            .where(Order.store_id == store_id, Order.customer_id == customer_id)
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(limit)
        )
    )


def may_see(state: BotSession, signed_customer_id: int | None, order: Order) -> bool:
    if order.id in (state.verified_order_ids or []):
        return True
    return signed_customer_id is not None and order.customer_id == signed_customer_id


def tail_matches(order: Order, tail: str) -> bool:
    return bool(order.receiver_phone_tail) and order.receiver_phone_tail == tail


async def items_of(session: AsyncSession, order_id: int) -> list[OrderItem]:
    return list(
        await session.scalars(
            select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.id)
        )
    )


async def order_title(session: AsyncSession, order: Order) -> str:
    items = await items_of(session, order.id)
    if not items:
        return ""
    first = items[0].title
    return first if len(items) == 1 else f"{first} 等 {len(items)} 件"


async def order_choice(session: AsyncSession, order: Order) -> dict[str, str]:
    title = await order_title(session, order)
    label = f"{order.order_no} · {title} · {status_label(order)}" if title else order.order_no
    return {"label": label, "text": order.order_no}


async def shipments_with_events(
    session: AsyncSession, order_id: int
) -> list[tuple[Shipment, list[LogisticsEvent]]]:
    shipments = list(
        await session.scalars(
            select(Shipment)
            .where(Shipment.order_id == order_id, Shipment.is_return.is_(False))
            .order_by(Shipment.id)
        )
    )
    out: list[tuple[Shipment, list[LogisticsEvent]]] = []
    for shipment in shipments:
        events = list(
            await session.scalars(
                select(LogisticsEvent)
                .where(LogisticsEvent.shipment_id == shipment.id)
                .order_by(LogisticsEvent.occurred_at.desc(), LogisticsEvent.id.desc())
                .limit(3)
            )
        )
        out.append((shipment, events))
    return out


def ship_deadline(order: Order, ship_within_hours: int) -> datetime | None:
    start = order.paid_at or order.placed_at
    return start + timedelta(hours=ship_within_hours) if start else None


async def describe_status(
    session: AsyncSession, order: Order, tz: str, ship_within_hours: int
) -> str:
    """The order's state and its latest logistics events, for the customer."""
    title = await order_title(session, order)
    lines = [f"订单 {order.order_no}{'（' + title + '）' if title else ''}：{status_label(order)}"]
    shipments = await shipments_with_events(session, order.id)
    for shipment, events in shipments:
        lines.append(f"{shipment.carrier} 运单号 {shipment.tracking_no}")
        for event in events:
            place = f"【{event.location}】" if event.location else ""
            lines.append(f"· {when(event.occurred_at, tz)} {place}{event.description}")
        if not events:
            lines.append("· 暂无物流信息，揽收后会更新")
    if order.status == OrderStatus.WAIT_SELLER_SEND_GOODS and not shipments:
        deadline = ship_deadline(order, ship_within_hours)
        if deadline is not None:
            lines.append(f"仓库正在备货，预计 {when(deadline, tz)} 前发出。")
    elif order.status == OrderStatus.WAIT_BUYER_PAY:
        lines.append("订单还未付款，付款后我们会尽快安排发货。")
    return "\n".join(lines)


async def refunds_of(session: AsyncSession, order_id: int) -> Sequence[Refund]:
    return list(
        await session.scalars(
            select(Refund).where(Refund.order_id == order_id).order_by(Refund.created_at)
        )
    )


_REFUND_STATUS = {
    "SUCCESS": "退款成功",
    "WAIT_SELLER_AGREE": "等待商家处理",
    "WAIT_BUYER_RETURN_GOODS": "等待您寄回商品",
    "WAIT_SELLER_CONFIRM_GOODS": "等待商家确认收货",
    "SELLER_REFUSE_BUYER": "商家已拒绝",
    "CLOSED": "退款关闭",
}


async def describe_refunds(session: AsyncSession, order: Order, tz: str) -> str:
    """Refunds paid on the order and its after-sales cases still in progress."""
    from kefu.aftersales.enums import CASE_STATUS_LABELS
    from kefu.aftersales.service import cases_for_order

    refunds = await refunds_of(session, order.id)
    cases = await cases_for_order(session, order.id)
    lines = []
    for case in cases:
        label = CASE_STATUS_LABELS.get(case.status, (case.status, ""))[0]
        lines.append(f"售后单 {case.number}：{label}")
    if not refunds:
        lines.append(f"订单 {order.order_no} 目前没有退款记录。")
        return "\n".join(lines)
    lines.append(f"订单 {order.order_no} 的退款记录：")
    for refund in refunds:
        state = _REFUND_STATUS.get(refund.status, refund.status)
        lines.append(f"· {when(refund.created_at, tz)} ¥{refund.amount:.2f} {state}")
    if any(r.status == "SUCCESS" for r in refunds):
        lines.append("退款成功后原路退回，一般 1–3 个工作日到账（信用卡可能稍久）。")
    return "\n".join(lines)


# --- addresses -----------------------------------------------------------------------------

_MUNICIPALITY = r"(?:北京|上海|天津|重庆)市?"
_ADDRESS = re.compile(
    r"(?P<province>" + _MUNICIPALITY + r"|[\u4e00-\u9fa5]{2,7}?(?:省|自治区|特别行政区))"
    r"(?P<city>[\u4e00-\u9fa5]{2,9}?(?:市|自治州|州|盟|地区))?"
    r"(?P<district>[\u4e00-\u9fa5]{1,9}?(?:区|县|旗|市))?"
    r"(?P<detail>[^\s，。,;；!！?？]{2,100})"
)
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
_RECEIVER = re.compile(r"(?:收货人|收件人|联系人)[:：\s]*([\u4e00-\u9fa5A-Za-z·]{2,12})")


def parse_address(text: str, order: Order) -> dict[str, str] | None:
    """A new delivery address in the customer's message, keeping the order's receiver name and
    phone unless the message gives new ones. None when no province-level address is found."""
    cleaned = _MOBILE.sub(" ", text)
    cleaned = _RECEIVER.sub(" ", cleaned)
    for prefix in ("地址改成", "地址改为", "改成", "改为", "改到", "换成", "新地址是", "新地址"):
        if prefix in cleaned:
            cleaned = cleaned.split(prefix, 1)[1]
            break
    found = _ADDRESS.search(cleaned)
    if found is None:
        return None
    province = found.group("province")
    city = found.group("city") or ""
    if re.fullmatch(_MUNICIPALITY, province):
        province = province if province.endswith("市") else province + "市"
        city = city or province
    phone = _MOBILE.search(text)
    receiver = _RECEIVER.search(text)
    return {
        "receiver_name": receiver.group(1) if receiver else order.receiver_name,
        "phone": phone.group(1) if phone else order.receiver_phone,
        "province": province,
        "city": city,
        "district": found.group("district") or "",
        "detail": found.group("detail"),
    }


def address_text(address: dict[str, str]) -> str:
    city = "" if address["city"] == address["province"] else address["city"]
    return f"{address['province']}{city}{address['district']}{address['detail']}"

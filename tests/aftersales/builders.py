"""Small builders for policy-engine tests: orders, lines and requests in Beijing time."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from kefu.aftersales.enums import ProductCategory, RequestKind, RequestReason
from kefu.aftersales.policy import (
    AftersalesRequest,
    ConditionReport,
    PolicyLine,
    PolicyOrder,
    RequestLine,
)
from kefu.store.enums import OrderStatus

CN = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")

# The running example: paid 30 Oct, signed for 3 Nov 2026 15:00 Beijing time.
PAID = datetime(2026, 10, 30, 10, 0, tzinfo=CN)
SIGNED = datetime(2026, 11, 3, 15, 0, tzinfo=CN)


def cn(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CN)


def line(
    line_id: str = "L1",
    title: str = "连衣裙",
    category: ProductCategory = ProductCategory.clothing,
    quantity: int = 1,
    price: str = "199.00",
    paid: str | None = None,
    **kw: Any,
) -> PolicyLine:
    unit = Decimal(price)
    return PolicyLine(
        line_id=line_id,
        title=title,
        category=category,
        quantity=quantity,
        unit_price=unit,
        paid_amount=Decimal(paid) if paid is not None else unit * quantity,
        **kw,
    )


def order(
    *lines: PolicyLine,
    status: OrderStatus = OrderStatus.TRADE_FINISHED,
    signed_at: datetime | None = SIGNED,
    shipping_fee: str = "0",
    discount: str = "0",
    paid: str | None = None,
    **kw: Any,
) -> PolicyOrder:
    lines = lines or (line(),)
    goods = sum((item.paid_amount for item in lines), Decimal("0"))
    fee = Decimal(shipping_fee)
    total = goods + fee - Decimal(discount)
    unshipped = status in (OrderStatus.WAIT_SELLER_SEND_GOODS, OrderStatus.WAIT_BUYER_PAY)
    in_transit = status in (
        OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
        OrderStatus.SELLER_CONSIGNED_PART,
    )
    kw.setdefault("shipped_at", None if unshipped else cn(11, 1))
    kw.setdefault("free_shipping", fee == 0)
    return PolicyOrder(
        order_id="T1",
        status=status,
        placed_at=PAID,
        paid_at=None if status is OrderStatus.WAIT_BUYER_PAY else PAID,
        signed_at=None if unshipped or in_transit else signed_at,
        lines=tuple(lines),
        paid_amount=Decimal(paid) if paid is not None else total,
        shipping_fee=fee,
        order_discount=Decimal(discount),
        **kw,
    )


def request(
    kind: RequestKind,
    reason: RequestReason,
    at: datetime,
    *lines: RequestLine,
    order_: PolicyOrder | None = None,
    issues: tuple[str, ...] | None = None,
    gifts_returned: bool | None = None,
    **kw: Any,
) -> AftersalesRequest:
    if not lines:
        targets = order_.lines if order_ is not None else (line(),)
        lines = tuple(RequestLine(item.line_id, item.quantity) for item in targets)
    condition = kw.pop("condition", None)
    if condition is None and (issues is not None or gifts_returned is not None):
        condition = ConditionReport.of(issues or (), gifts_returned=gifts_returned)
    return AftersalesRequest(
        kind=kind, reason=reason, lines=tuple(lines), requested_at=at, condition=condition, **kw
    )


def codes(decision: Any) -> set[str]:
    return {r.code for r in (*decision.reasons, *decision.notes)}


def failed_codes(decision: Any) -> set[str]:
    return {r.code for r in decision.failures}

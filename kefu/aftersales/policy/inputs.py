"""What the policy engine decides on: a snapshot of the order and the buyer's request.

Plain frozen dataclasses, not ORM rows, so the engine is pure (no database, no clock of its own)
and fast; `kefu.aftersales.policy.convert` builds them from the store's models. Every datetime
must be timezone-aware; every amount is a Decimal rounded to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from kefu.aftersales.enums import ConditionIssue, ProductCategory, RequestKind, RequestReason
from kefu.aftersales.refunds import ZERO, money
from kefu.store.enums import CustomerTier, OrderStatus, ReturnExclusion


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


def _set_money(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value is None:
            continue
        amount = money(value)
        if amount < 0:
            raise ValueError(f"{name} must not be negative")
        object.__setattr__(obj, name, amount)


@dataclass(frozen=True, slots=True)
class PolicyLine:
    """One order line (子订单).

    `paid_amount` is what the buyer paid for the line as the shop recorded it; if the order
    also carries an order-level discount not yet spread over the lines (`PolicyOrder.
    order_discount`), the engine spreads it in proportion before valuing a return.
    `returned_quantity` counts units already returned or refunded as units.
    `shipped` is None when the line follows the order's status.
    """

    line_id: str
    title: str
    category: ProductCategory
    quantity: int
    unit_price: Decimal
    paid_amount: Decimal
    return_exclusion: ReturnExclusion | None = None
    exclusion_confirmed: bool = False
    refunded_amount: Decimal = ZERO
    returned_quantity: int = 0
    shipped: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "category", ProductCategory(self.category))
        if self.return_exclusion is not None:
            object.__setattr__(self, "return_exclusion", ReturnExclusion(self.return_exclusion))
        if self.quantity < 1:
            raise ValueError("quantity must be at least 1")
        if not 0 <= self.returned_quantity <= self.quantity:
            raise ValueError("returned_quantity must be between 0 and quantity")
        _set_money(self, "unit_price", "paid_amount", "refunded_amount")


@dataclass(frozen=True, slots=True)
class PolicyGift:
    """A gift (赠品) given with the order at a stated price; `line_id` None = the whole order."""

    title: str
    stated_value: Decimal
    line_id: str | None = None

    def __post_init__(self) -> None:
        _set_money(self, "stated_value")


@dataclass(frozen=True, slots=True)
class PolicyOrder:
    """The order as the policy sees it.

    `paid_amount` is all the buyer paid (goods and shipping); `refunded_amount` all refunded so
    far on the order (line refunds included). `shipping_fee` is the outbound shipping the buyer
    paid (0 for 包邮). For a free-shipping order, `free_shipping_threshold` is the 满额包邮
    threshold (None = unconditional 包邮) and `standard_shipping_fee` the fee that was waived,
    which the seller may deduct when a return breaks the threshold (办法 18).
    """

    order_id: str
    status: OrderStatus
    placed_at: datetime
    lines: tuple[PolicyLine, ...]
    paid_amount: Decimal
    timezone: str = "Asia/Shanghai"
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    signed_at: datetime | None = None
    finished_at: datetime | None = None
    refunded_amount: Decimal = ZERO
    shipping_fee: Decimal = ZERO
    shipping_refunded: Decimal = ZERO
    order_discount: Decimal = ZERO
    free_shipping: bool = False
    free_shipping_threshold: Decimal | None = None
    standard_shipping_fee: Decimal | None = None
    outbound_shipping_deducted: Decimal = ZERO
    customer_tier: CustomerTier = CustomerTier.normal
    gifts: tuple[PolicyGift, ...] = ()

    def __post_init__(self) -> None:
        if not self.lines:
            raise ValueError("an order needs at least one line")
        object.__setattr__(self, "status", OrderStatus(self.status))
        object.__setattr__(self, "customer_tier", CustomerTier(self.customer_tier))
        for name in ("placed_at", "paid_at", "shipped_at", "signed_at", "finished_at"):
            _aware(name, getattr(self, name))
        _set_money(
            self,
            "paid_amount",
            "refunded_amount",
            "shipping_fee",
            "shipping_refunded",
            "order_discount",
            "free_shipping_threshold",
            "standard_shipping_fee",
            "outbound_shipping_deducted",
        )
        ids = [line.line_id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError("line ids must be unique within an order")

    def line(self, line_id: str) -> PolicyLine | None:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        return None


@dataclass(frozen=True, slots=True)
class RequestLine:
    """What the buyer asks for on one line: units to return/exchange/resend, or an amount.

    `current_unit_price` is today's price, for price protection.
    """

    line_id: str
    quantity: int = 1
    amount: Decimal | None = None
    current_unit_price: Decimal | None = None

    def __post_init__(self) -> None:
        if self.quantity < 0:
            raise ValueError("quantity must not be negative")
        _set_money(self, "amount", "current_unit_price")


@dataclass(frozen=True, slots=True)
class ConditionReport:
    """The state of goods to be returned, reported by the buyer or found on inspection.

    `gifts_returned` None = not known yet (the decision then notes the gift rule).
    """

    issues: frozenset[ConditionIssue] = frozenset()
    gifts_returned: bool | None = None
    inspected: bool = False

    @classmethod
    def of(
        cls,
        issues: Iterable[ConditionIssue | str] = (),
        *,
        gifts_returned: bool | None = None,
        inspected: bool = False,
    ) -> ConditionReport:
        return cls(frozenset(ConditionIssue(i) for i in issues), gifts_returned, inspected)


@dataclass(frozen=True, slots=True)
class AftersalesRequest:
    """The buyer's request. `requested_at` is when the buyer sent it (the return notice of
    办法 10). `returned_goods_received_at` is when the seller received goods sent back, if so.
    `seller_agreed_return_shipping`: the seller agreed otherwise (e.g. 运费险), CPL 25."""

    kind: RequestKind
    reason: RequestReason
    lines: tuple[RequestLine, ...]
    requested_at: datetime
    condition: ConditionReport | None = None
    returned_goods_received_at: datetime | None = None
    seller_agreed_return_shipping: bool = False
    note: str = field(default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", RequestKind(self.kind))
        object.__setattr__(self, "reason", RequestReason(self.reason))
        _aware("requested_at", self.requested_at)
        _aware("returned_goods_received_at", self.returned_goods_received_at)
        if not self.lines:
            raise ValueError("a request needs at least one line")

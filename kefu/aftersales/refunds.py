"""Refund arithmetic: how much money may go back, to the cent, and never more than was paid.

All arithmetic is done in integer cents, so nothing depends on Decimal context or rounding mode.
The invariants, each property-tested in `tests/aftersales/test_refunds.py`:

* `allocate(total, weights)` returns shares that sum to `total` exactly; each share is the
  proportional value rounded down or up by at most one cent (largest-remainder method); a zero
  weight gets nothing. Order-level discounts (满减, bundle prices, shop coupons) are spread over
  the lines this way, so a partial return is re-priced at what the buyer actually paid for
  that line (办法 16–17; 条例 18).
* `units_refund(remaining, remaining_units, units)` values part of a line: it rounds down, and
  the last units take everything left. Any sequence of partial returns of a line therefore sums
  exactly to what was paid for it, never above, and earlier money-only refunds (a price
  difference, a goodwill partial refund) are shared over the units still held.
* `refundable_amount(...)` never exceeds, per line, what was paid for the line minus what was
  already refunded on it, nor, per order, what was paid minus what was already refunded; never
  negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal | int | str) -> Decimal:
    """A money amount rounded half-up to the cent (the form every amount here is kept in)."""
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value(rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `total` over `weights` in proportion; the shares sum to `total` exactly.

    Largest-remainder method in cents: everyone gets the proportional amount rounded down, then
    the cents left over go one each to the largest remainders (ties to the earlier line, so the
    result is deterministic). If every weight is zero the total is split evenly.
    """
    total_c = to_cents(total)
    if total_c < 0:
        raise ValueError("cannot allocate a negative amount")
    cents = [to_cents(w) for w in weights]
    if any(c < 0 for c in cents):
        raise ValueError("weights must not be negative")
    if not cents:
        if total_c:
            raise ValueError("nothing to allocate over")
        return []
    whole = sum(cents)
    if whole == 0:
        cents = [1] * len(cents)
        whole = len(cents)
    base = [total_c * c // whole for c in cents]
    left = total_c - sum(base)
    if left:
        remainders = [total_c * c % whole for c in cents]
        for i in sorted(range(len(cents)), key=lambda i: (-remainders[i], i))[:left]:
            base[i] += 1
    return [from_cents(b) for b in base]


def allocate_discount(line_amounts: Sequence[Decimal], discount: Decimal) -> list[Decimal]:
    """Each line's share of an order-level discount; no share exceeds its line's amount."""
    if to_cents(discount) > sum(to_cents(a) for a in line_amounts):
        raise ValueError("the discount is larger than the goods it applies to")
    return allocate(discount, line_amounts)


def net_line_amounts(line_amounts: Sequence[Decimal], discount: Decimal) -> list[Decimal]:
    """What the buyer actually paid for each line once the order-level discount is spread."""
    shares = allocate_discount(line_amounts, discount)
    return [
        from_cents(to_cents(a) - to_cents(s)) for a, s in zip(line_amounts, shares, strict=True)
    ]


def units_refund(remaining: Decimal, remaining_units: int, units: int) -> Decimal:
    """Money for `units` of the `remaining_units` still held, out of `remaining` unrefunded.

    Rounds down; returning every remaining unit takes all that is left. Returning k units now
    and the rest later therefore adds up exactly to `remaining`.
    """
    if units <= 0 or remaining_units <= 0 or remaining <= 0:
        return ZERO
    if units >= remaining_units:
        return money(remaining)
    return from_cents(to_cents(remaining) * units // remaining_units)


@dataclass(frozen=True, slots=True)
class LineRefund:
    """One order line in a refund: what was paid for it and what this refund asks for.

    `paid` is the line's net paid amount (after its share of order-level discounts).
    `units` returns that many units (valued by `units_refund`); `amount` asks for money without
    units (price difference, missing piece) — with both, the smaller wins.
    """

    line_id: str
    paid: Decimal
    quantity: int
    refunded: Decimal = ZERO
    returned_quantity: int = 0
    units: int = 0
    amount: Decimal | None = None

    @property
    def remaining(self) -> Decimal:
        left = self.paid - self.refunded
        return left if left > 0 else ZERO


@dataclass(frozen=True, slots=True)
class Deduction:
    """Money kept back from a refund, with the reason in Chinese and English."""

    code: str
    amount: Decimal
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class RefundBreakdown:
    """How a refund total is made up. `cap` is the most that could ever go back for this request
    (goods plus refundable shipping, before deductions, within what is left on the order)."""

    lines: tuple[tuple[str, Decimal], ...]
    goods: Decimal
    shipping: Decimal
    deductions: tuple[Deduction, ...]
    total: Decimal
    cap: Decimal


def line_goods_refund(line: LineRefund) -> Decimal:
    """The goods money this line may give back for the request, within what is left on it."""
    remaining = line.remaining
    held = line.quantity - line.returned_quantity
    if line.units > 0:
        value = units_refund(remaining, held, line.units)
        if line.amount is not None and line.amount < value:
            value = money(line.amount) if line.amount > 0 else ZERO
        return value
    if line.amount is not None:
        asked = money(line.amount)
        if asked <= 0:
            return ZERO
        return asked if asked < remaining else money(remaining)
    return ZERO


def refundable_amount(
    *,
    order_paid: Decimal,
    order_refunded: Decimal,
    lines: Sequence[LineRefund],
    shipping_refund: Decimal = ZERO,
    shipping_available: Decimal | None = None,
    deductions: Sequence[Deduction] = (),
) -> RefundBreakdown:
    """The most that may be refunded for these lines now.

    `shipping_refund` is the outbound shipping the policy gives back (already limited to what
    is left of the shipping fee by the caller); `shipping_available` is the most shipping that
    could be given back at an agent's discretion (defaults to `shipping_refund`), used only for
    `cap`. Deductions (unreturned gifts, outbound shipping when a free-shipping threshold is
    broken) come off the total, which never goes below zero nor above what is left on the order.
    """
    order_left = money(order_paid) - money(order_refunded)
    if order_left < 0:
        order_left = ZERO
    # Lines are valued in order and each is clipped to what is still left on the order, so
    # the per-line amounts always add up to the goods total.
    per_line: list[tuple[str, Decimal]] = []
    goods = ZERO
    for line in lines:
        value = line_goods_refund(line)
        if goods + value > order_left:
            value = order_left - goods
        per_line.append((line.line_id, value))
        goods += value
    shipping = money(shipping_refund) if shipping_refund > 0 else ZERO
    available = shipping
    if shipping_available is not None and shipping_available > shipping:
        available = money(shipping_available)
    if goods + shipping > order_left:
        shipping = order_left - goods
    taken = ZERO
    for deduction in deductions:
        taken += money(deduction.amount)
    total = goods + shipping - taken
    if total < 0:
        total = ZERO
    cap = goods + available
    if cap > order_left:
        cap = order_left
    # Every amount above is a sum or difference of cent amounts, hence exact to the cent.
    return RefundBreakdown(
        lines=tuple(per_line),
        goods=goods,
        shipping=shipping,
        deductions=tuple(deductions),
        total=total,
        cap=cap,
    )


def shipping_share(
    shipping_fee: Decimal,
    shipping_refunded: Decimal,
    goods_total: Decimal,
    returned_value: Decimal,
    *,
    completes_order: bool,
) -> Decimal:
    """The outbound shipping that goes back with `returned_value` of goods (seller at fault, or
    a cancellation before shipment): proportional, rounded down, all that is left when the
    request returns the last goods of the order."""
    left = shipping_fee - shipping_refunded
    if left <= 0:
        return ZERO
    if completes_order or goods_total <= 0:
        return money(left)
    share = from_cents(to_cents(shipping_fee) * to_cents(returned_value) // to_cents(goods_total))
    return share if share < left else money(left)


FRAUD_MULTIPLE = 3  # CPL 55
FRAUD_MINIMUM = Decimal("500.00")  # CPL 55


def fraud_compensation(price_paid: Decimal) -> Decimal:
    """CPL 55: on top of the refund, 3× the price paid, at least ¥500.

    Not applied by the policy engine: whether the seller committed fraud is a finding for a
    person (or a court), never an automatic rule. Kept here so the amount is computed one way.
    """
    amount = money(price_paid) * FRAUD_MULTIPLE
    return amount if amount > FRAUD_MINIMUM else FRAUD_MINIMUM

"""Price protection (价保): refund the difference when the price drops within N days."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from kefu.aftersales.enums import RequestKind, RequestReason
from kefu.aftersales.policy import RequestLine, evaluate_request
from kefu.aftersales.settings import AftersalesPolicySettings
from kefu.store.enums import OrderStatus
from tests.aftersales.builders import cn, failed_codes, line, order, request

PRICE = RequestReason.price_protection


def ask(o, at: datetime, current: str | None, qty: int = 0, settings=None):  # type: ignore[no-untyped-def]
    r = request(
        RequestKind.refund_only,
        PRICE,
        at,
        RequestLine("L1", qty, current_unit_price=Decimal(current) if current else None),
    )
    return evaluate_request(o, r, settings or AftersalesPolicySettings(price_protection_days=15))


@pytest.mark.parametrize(
    ("requested_at", "allowed"),
    # paid 30 Oct 10:00 Beijing; 15 days ⇒ last day 14 Nov
    [(cn(11, 14, 23, 59), True), (cn(11, 15, 0, 0), False)],
)
def test_window_counts_from_payment(requested_at: datetime, allowed: bool) -> None:
    o = order(line(quantity=2, price="100.00"))
    decision = ask(o, requested_at, "80.00")
    assert decision.allowed is allowed
    assert decision.deadline("price_protection_until").last_day.isoformat() == "2026-11-14"
    if allowed:
        assert decision.max_refundable_amount == Decimal("40.00")  # 2 × (100 − 80)
        assert not decision.requires_return
    else:
        assert failed_codes(decision) == {"price_protection_expired"}


def test_difference_is_against_the_price_actually_paid() -> None:
    # Paid ¥90 per unit after the order discount; today ¥95: nothing to refund.
    o = order(line(price="100.00"), discount="10")
    assert failed_codes(ask(o, cn(11, 1), "95.00")) == {"no_price_drop"}
    assert ask(o, cn(11, 1), "85.00").max_refundable_amount == Decimal("5.00")


def test_unshipped_orders_are_protected_too() -> None:
    o = order(line(), status=OrderStatus.WAIT_SELLER_SEND_GOODS)
    assert ask(o, cn(11, 1), "150.00").max_refundable_amount == Decimal("49.00")


def test_only_units_still_held_and_never_above_what_is_left() -> None:
    o = order(
        line(quantity=3, price="100.00", returned_quantity=1, refunded_amount=Decimal("100.00"))
    )
    assert ask(o, cn(11, 1), "90.00").max_refundable_amount == Decimal("20.00")
    assert ask(o, cn(11, 1), "0.00").max_refundable_amount == Decimal("200.00")


def test_disabled_or_missing_price() -> None:
    o = order(line())
    off = AftersalesPolicySettings(price_protection_days=0)
    assert failed_codes(ask(o, cn(11, 1), "100.00", settings=off)) == {
        "price_protection_not_offered"
    }
    assert failed_codes(ask(o, cn(11, 1), None)) == {"current_price_missing"}


def test_price_protection_is_a_refund_only_request() -> None:
    o = order(line())
    decision = evaluate_request(o, request(RequestKind.return_refund, PRICE, cn(11, 4), order_=o))
    assert failed_codes(decision) == {"kind_not_applicable"}
    assert decision.suggested_kinds == (RequestKind.refund_only,)

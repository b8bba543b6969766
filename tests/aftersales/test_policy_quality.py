"""Quality problems (CPL 24, 23; 三包; 电子商务法 20) — the bullets of DOMAIN.md §1."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from kefu.aftersales.enums import Payer, ProductCategory, RequestKind, RequestReason
from kefu.aftersales.policy import RequestLine, evaluate_request
from kefu.aftersales.settings import AftersalesPolicySettings
from kefu.store.enums import ReturnExclusion
from tests.aftersales.builders import cn, codes, failed_codes, line, order, request

QUALITY = RequestReason.quality


@pytest.mark.parametrize(
    ("requested_at", "allowed"),
    [(cn(11, 10, 23, 59), True), (cn(11, 11, 0, 0), False)],
)
def test_quality_return_within_seven_days_of_receipt(requested_at: datetime, allowed: bool) -> None:
    o = order(line(), shipping_fee="10.00")
    decision = evaluate_request(
        o, request(RequestKind.return_refund, QUALITY, requested_at, order_=o)
    )
    assert decision.allowed is allowed
    assert decision.deadline("quality_return_by").last_day.isoformat() == "2026-11-10"  # type: ignore[union-attr]
    # The seller pays transport in quality cases, both ways, and the outbound fee comes back.
    assert decision.shipping.return_leg is Payer.seller
    assert decision.shipping.outbound is Payer.seller
    assert decision.refund_if_allowed == Decimal("209.00")
    if not allowed:
        assert RequestKind.exchange in decision.suggested_kinds
        assert "quality_rescission_possible" in codes(decision)


@pytest.mark.parametrize(
    ("requested_at", "allowed"),
    [(cn(11, 18, 23, 59), True), (cn(11, 19, 0, 1), False)],
)
def test_quality_exchange_within_fifteen_days(requested_at: datetime, allowed: bool) -> None:
    o = order(line())
    decision = evaluate_request(o, request(RequestKind.exchange, QUALITY, requested_at, order_=o))
    assert decision.allowed is allowed
    assert decision.deadline("quality_exchange_by").last_day.isoformat() == "2026-11-18"  # type: ignore[union-attr]
    assert decision.shipping.return_leg is Payer.seller
    assert decision.shipping.reship is Payer.seller
    if not allowed:
        assert decision.suggested_kinds == (RequestKind.repair,)


def test_quality_return_ignores_no_reason_exclusions_and_condition() -> None:
    # Custom-made goods with a defect: the 7-day no-reason exclusions do not apply.
    o = order(line(return_exclusion=ReturnExclusion.custom_made))
    r = request(RequestKind.return_refund, QUALITY, cn(11, 5), order_=o, issues=("tags_removed",))
    decision = evaluate_request(o, r)
    assert decision.allowed and decision.requires_inspection


@pytest.mark.parametrize(
    "reason",
    [RequestReason.wrong_item, RequestReason.not_as_described, RequestReason.damaged_in_transit],
)
def test_other_seller_fault_reasons_put_shipping_on_the_seller(reason: RequestReason) -> None:
    o = order(line())
    decision = evaluate_request(o, request(RequestKind.return_refund, reason, cn(11, 6), order_=o))
    assert decision.allowed
    assert decision.shipping.return_leg is Payer.seller
    rule = next(r for r in decision.reasons if r.code == "seller_pays_shipping")
    assert "第二十四条" in rule.article


def test_durable_goods_burden_of_proof_note_within_six_months() -> None:
    laptop = line(title="笔记本电脑", category=ProductCategory.computer, price="5999.00")
    o = order(laptop)
    decision = evaluate_request(o, request(RequestKind.repair, QUALITY, cn(12, 20), order_=o))
    assert decision.allowed
    assert "durable_burden_on_seller" in codes(decision)
    burden = decision.deadline("burden_of_proof_until")
    assert burden is not None and burden.last_day.isoformat() == "2027-05-03"
    assert "第二十三条" in burden.article
    later = evaluate_request(o, request(RequestKind.repair, QUALITY, cn(6, 1, year=2027), order_=o))
    assert "durable_burden_on_seller" not in codes(later)
    shirt = order(line())
    assert "durable_burden_on_seller" not in codes(
        evaluate_request(shirt, request(RequestKind.repair, QUALITY, cn(12, 1), order_=shirt))
    )


def test_month_end_burden_period_uses_last_day_of_month() -> None:
    o = order(line(category=ProductCategory.home_appliance), signed_at=cn(8, 31))
    decision = evaluate_request(o, request(RequestKind.repair, QUALITY, cn(9, 5), order_=o))
    assert decision.deadline("burden_of_proof_until").last_day.isoformat() == "2027-02-28"  # type: ignore[union-attr]


def test_repair_within_and_after_warranty() -> None:
    o = order(line(category=ProductCategory.electronics))
    inside = evaluate_request(
        o, request(RequestKind.repair, QUALITY, cn(10, 1, year=2027), order_=o)
    )
    assert inside.allowed
    assert inside.shipping.return_leg is Payer.seller and inside.shipping.reship is Payer.seller
    outside = evaluate_request(
        o, request(RequestKind.repair, QUALITY, cn(11, 4, year=2027), order_=o)
    )
    assert failed_codes(outside) == {"warranty_expired"}
    assert "付费维修" in outside.failures[0].zh


def test_repair_is_for_quality_problems() -> None:
    o = order(line())
    decision = evaluate_request(
        o, request(RequestKind.repair, RequestReason.no_reason, cn(11, 5), order_=o)
    )
    assert failed_codes(decision) == {"kind_not_applicable"}


def test_quality_refund_only_after_signing_needs_the_goods_back_unless_shop_allows() -> None:
    o = order(line())
    decision = evaluate_request(o, request(RequestKind.refund_only, QUALITY, cn(11, 5), order_=o))
    assert failed_codes(decision) == {"refund_only_needs_return"}
    assert RequestKind.return_refund in decision.suggested_kinds
    shop = AftersalesPolicySettings(allow_refund_only_after_signing_for_fault=True)
    allowed = evaluate_request(
        o, request(RequestKind.refund_only, QUALITY, cn(11, 5), order_=o), shop
    )
    assert allowed.allowed and not allowed.requires_return
    assert allowed.max_refundable_amount == Decimal("199.00")


def test_widened_quality_windows() -> None:
    shop = AftersalesPolicySettings(quality_return_days=30)
    o = order(line())
    decision = evaluate_request(
        o, request(RequestKind.return_refund, QUALITY, cn(11, 30), order_=o), shop
    )
    assert decision.allowed


@pytest.mark.parametrize(
    ("reason", "allowed", "requires_return"),
    [
        (RequestReason.missing_item, True, False),
        (RequestReason.not_received, True, False),
        (RequestReason.damaged_in_transit, True, False),
        (RequestReason.wrong_item, True, True),
        (RequestReason.quality, False, False),
        (RequestReason.no_reason, False, False),
    ],
)
def test_resend(reason: RequestReason, allowed: bool, requires_return: bool) -> None:
    o = order(line(quantity=2, price="50.00"))
    decision = evaluate_request(
        o, request(RequestKind.resend, reason, cn(11, 4), RequestLine("L1", 1))
    )
    assert decision.allowed is allowed
    if allowed:
        assert decision.shipping.reship is Payer.seller
        assert decision.requires_return is requires_return
        assert decision.max_refundable_amount == 0

"""Order-state rules (DOMAIN.md §2; Taobao dispute rules arts. 23, 27) and refused delivery."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kefu.aftersales.enums import Payer, RequestKind, RequestReason
from kefu.aftersales.policy import RequestLine, evaluate_request
from kefu.aftersales.settings import AftersalesPolicySettings
from kefu.store.enums import OrderStatus, ReturnExclusion
from tests.aftersales.builders import cn, codes, failed_codes, line, order, request

NO_REASON = RequestReason.no_reason


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (OrderStatus.WAIT_BUYER_PAY, "order_unpaid"),
        (OrderStatus.TRADE_CLOSED, "order_closed"),
        (OrderStatus.TRADE_CLOSED_BY_TAOBAO, "order_closed"),
    ],
)
@pytest.mark.parametrize("kind", list(RequestKind))
def test_unpaid_and_closed_orders_refuse_every_kind(
    status: OrderStatus, code: str, kind: RequestKind
) -> None:
    o = order(line(), status=status)
    decision = evaluate_request(o, request(kind, NO_REASON, cn(11, 5), order_=o))
    assert not decision.allowed
    assert failed_codes(decision) == {code}
    assert decision.max_refundable_amount == 0


def test_refund_before_shipment_cancels_shipping_and_refunds_it() -> None:
    o = order(
        line(),
        line("L2", title="衬衫", price="99.00"),
        status=OrderStatus.WAIT_SELLER_SEND_GOODS,
        shipping_fee="8.00",
    )
    decision = evaluate_request(
        o, request(RequestKind.refund_only, NO_REASON, cn(10, 31), order_=o)
    )
    assert decision.allowed and not decision.requires_return
    assert decision.max_refundable_amount == Decimal("306.00")
    assert decision.shipping.outbound_refund == Decimal("8.00")
    rule = next(r for r in decision.reasons if r.code == "refund_before_shipment")
    assert "第二十七条" in rule.article
    # Cancelling one line: the other still ships, so the shipping fee stays.
    part = evaluate_request(
        o, request(RequestKind.refund_only, NO_REASON, cn(10, 31), RequestLine("L2", 1))
    )
    assert part.max_refundable_amount == Decimal("99.00")


def test_return_before_shipment_suggests_refund_only() -> None:
    o = order(line(), status=OrderStatus.WAIT_SELLER_SEND_GOODS)
    decision = evaluate_request(
        o, request(RequestKind.return_refund, NO_REASON, cn(10, 31), order_=o)
    )
    assert failed_codes(decision) == {"not_shipped_use_refund_only"}
    assert decision.suggested_kinds == (RequestKind.refund_only,)


@pytest.mark.parametrize("kind", [RequestKind.refund_only, RequestKind.return_refund])
def test_refund_after_shipment_before_signing_advises_interception(kind: RequestKind) -> None:
    o = order(line(), status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS)
    decision = evaluate_request(o, request(kind, NO_REASON, cn(11, 2), order_=o))
    assert decision.allowed and decision.requires_return
    rule = next(r for r in decision.reasons if r.code == "intercept_advised")
    assert "拦截" in rule.zh and "intercept" in rule.en and "第二十三条" in rule.article
    assert decision.max_refundable_amount == Decimal("199.00")
    off = AftersalesPolicySettings(intercept_before_signing=False)
    refused = evaluate_request(o, request(kind, NO_REASON, cn(11, 2), order_=o), off)
    assert failed_codes(refused) == {"shipped_not_signed"}
    assert RequestKind.refused_delivery in refused.suggested_kinds


def test_partly_shipped_order_unshipped_line_is_refund_before_shipment() -> None:
    o = order(
        line("L1", shipped=True),
        line("L2", title="衬衫", price="99.00", shipped=False),
        status=OrderStatus.SELLER_CONSIGNED_PART,
    )
    decision = evaluate_request(
        o, request(RequestKind.refund_only, NO_REASON, cn(11, 2), RequestLine("L2", 1))
    )
    assert decision.allowed and "refund_before_shipment" in codes(decision)
    both = evaluate_request(o, request(RequestKind.refund_only, NO_REASON, cn(11, 2), order_=o))
    assert failed_codes(both) == {"mixed_stages"}


def test_refund_only_after_signing_without_reason_is_a_return() -> None:
    o = order(line())
    decision = evaluate_request(o, request(RequestKind.refund_only, NO_REASON, cn(11, 5), order_=o))
    assert failed_codes(decision) == {"refund_only_after_signing"}
    assert decision.suggested_kinds == (RequestKind.return_refund,)


def test_missing_item_refund_only_for_the_missing_units() -> None:
    o = order(line(quantity=3, price="30.00"))
    decision = evaluate_request(
        o,
        request(
            RequestKind.refund_only, RequestReason.missing_item, cn(11, 4), RequestLine("L1", 1)
        ),
    )
    assert decision.allowed and decision.requires_inspection and not decision.requires_return
    assert decision.max_refundable_amount == Decimal("30.00")


# --- 拒收 (refused delivery) ---------------------------------------------------------------------


def test_refused_delivery_without_reason_return_leg_setting() -> None:
    o = order(line(), status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS, shipping_fee="10.00")
    decision = evaluate_request(
        o, request(RequestKind.refused_delivery, NO_REASON, cn(11, 2), order_=o)
    )
    assert decision.allowed and decision.requires_return and decision.requires_inspection
    assert decision.shipping.return_leg is Payer.buyer  # default reading (UNCONFIRMED)
    assert decision.shipping.outbound is Payer.buyer
    assert decision.max_refundable_amount == Decimal("199.00")
    assert "refused_delivery_shipping" in codes(decision)
    seller = AftersalesPolicySettings(refused_delivery_return_leg_payer=Payer.seller)
    decision = evaluate_request(
        o, request(RequestKind.refused_delivery, NO_REASON, cn(11, 2), order_=o), seller
    )
    assert decision.shipping.return_leg is Payer.seller


def test_refused_delivery_for_transit_damage_is_on_the_seller() -> None:
    o = order(line(), status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS, shipping_fee="10.00")
    decision = evaluate_request(
        o,
        request(
            RequestKind.refused_delivery, RequestReason.damaged_in_transit, cn(11, 2), order_=o
        ),
    )
    assert decision.allowed
    assert decision.shipping.return_leg is Payer.seller
    assert decision.max_refundable_amount == Decimal("209.00")


def test_refused_delivery_of_excluded_goods_without_reason() -> None:
    o = order(
        line(return_exclusion=ReturnExclusion.perishable),
        status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
    )
    decision = evaluate_request(
        o, request(RequestKind.refused_delivery, NO_REASON, cn(11, 2), order_=o)
    )
    assert failed_codes(decision) == {"excluded_always"}


@pytest.mark.parametrize(
    ("status", "code", "suggested"),
    [
        (OrderStatus.TRADE_FINISHED, "refused_after_signing", RequestKind.return_refund),
        (OrderStatus.WAIT_SELLER_SEND_GOODS, "refused_not_shipped", RequestKind.refund_only),
    ],
)
def test_refused_delivery_only_in_transit(
    status: OrderStatus, code: str, suggested: RequestKind
) -> None:
    o = order(line(), status=status)
    decision = evaluate_request(
        o, request(RequestKind.refused_delivery, NO_REASON, cn(11, 2), order_=o)
    )
    assert failed_codes(decision) == {code}
    assert suggested in decision.suggested_kinds


def test_unknown_line_and_fully_refunded_line() -> None:
    o = order(line(refunded_amount=Decimal("199.00")))
    unknown = evaluate_request(
        o, request(RequestKind.return_refund, NO_REASON, cn(11, 4), RequestLine("X", 1))
    )
    assert failed_codes(unknown) == {"unknown_line"}
    done = evaluate_request(o, request(RequestKind.return_refund, NO_REASON, cn(11, 4), order_=o))
    assert "line_fully_refunded" in failed_codes(done)


def test_platform_entry_note_after_completion() -> None:
    o = order(line(), finished_at=cn(11, 4))
    decision = evaluate_request(
        o, request(RequestKind.return_refund, RequestReason.quality, cn(11, 10), order_=o)
    )
    assert "platform_entry_closed" not in codes(decision)
    decision = evaluate_request(
        o, request(RequestKind.exchange, RequestReason.quality, cn(11, 15), order_=o)
    )
    assert decision.allowed and "platform_entry_closed" in codes(decision)

"""Whole-engine properties over random orders and requests: it always answers, explains
itself in Chinese and English with an article, and never offers more than is left paid."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.aftersales.enums import ConditionIssue, ProductCategory, RequestKind, RequestReason
from kefu.aftersales.policy import (
    AftersalesRequest,
    ConditionReport,
    PolicyGift,
    PolicyLine,
    PolicyOrder,
    RequestLine,
    evaluate_request,
)
from kefu.aftersales.refunds import net_line_amounts
from kefu.store.enums import CustomerTier, OrderStatus, ReturnExclusion
from tests.aftersales.builders import PAID

CJK = re.compile(r"[\u4e00-\u9fff]")


@st.composite
def orders(draw: st.DrawFn) -> PolicyOrder:
    n = draw(st.integers(1, 4))
    lines = []
    for i in range(n):
        quantity = draw(st.integers(1, 5))
        unit = Decimal(draw(st.integers(1, 200_000))).scaleb(-2)
        paid = unit * quantity
        returned = draw(st.integers(0, quantity))
        refunded = (paid * returned / quantity).quantize(Decimal("0.01"))
        lines.append(
            PolicyLine(
                line_id=f"L{i}",
                title=f"商品{i}",
                category=draw(st.sampled_from(ProductCategory)),
                quantity=quantity,
                unit_price=unit,
                paid_amount=paid,
                return_exclusion=draw(st.none() | st.sampled_from(ReturnExclusion)),
                exclusion_confirmed=draw(st.booleans()),
                refunded_amount=refunded,
                returned_quantity=returned,
                shipped=draw(st.none() | st.booleans()),
            )
        )
    goods = sum((line.paid_amount for line in lines), Decimal("0"))
    discount = (goods * draw(st.integers(0, 50)) / 100).quantize(Decimal("0.01"))
    net = net_line_amounts([line.paid_amount for line in lines], discount)
    # Refunds recorded so far must fit what the lines are worth after the discount.
    lines = [
        PolicyLine(
            **{
                **{f: getattr(line, f) for f in PolicyLine.__slots__},
                "refunded_amount": min(line.refunded_amount, value),
            }
        )
        for line, value in zip(lines, net, strict=True)
    ]
    fee = Decimal(draw(st.sampled_from([0, 0, 600, 1200]))).scaleb(-2)
    status = draw(st.sampled_from(OrderStatus))
    signed = PAID + timedelta(minutes=draw(st.integers(60, 60 * 24 * 10)))
    line_refunds = sum((line.refunded_amount for line in lines), Decimal("0"))
    return PolicyOrder(
        order_id="T",
        status=status,
        placed_at=PAID,
        paid_at=PAID,
        signed_at=draw(st.none() | st.just(signed)),
        finished_at=draw(st.none() | st.just(signed + timedelta(days=2))),
        lines=tuple(lines),
        paid_amount=goods - discount + fee,
        refunded_amount=line_refunds,
        shipping_fee=fee,
        order_discount=discount,
        free_shipping=fee == 0,
        free_shipping_threshold=draw(st.none() | st.just(Decimal("99.00"))),
        standard_shipping_fee=draw(st.none() | st.just(Decimal("8.00"))),
        customer_tier=draw(st.sampled_from(CustomerTier)),
        gifts=draw(
            st.lists(
                st.builds(
                    PolicyGift,
                    title=st.just("赠品"),
                    stated_value=st.just(Decimal("5.00")),
                    line_id=st.none() | st.sampled_from([line.line_id for line in lines]),
                ),
                max_size=2,
            ).map(tuple)
        ),
        timezone=draw(st.sampled_from(["Asia/Shanghai", "UTC"])),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[PolicyOrder, AftersalesRequest]:
    order = draw(orders())
    chosen = draw(
        st.lists(
            st.sampled_from(order.lines),
            min_size=1,
            max_size=len(order.lines),
            unique_by=lambda x: x.line_id,
        )
    )
    request_lines = tuple(
        RequestLine(
            line.line_id,
            draw(st.integers(0, line.quantity + 1)),
            amount=draw(st.none() | st.just(Decimal("10.00"))),
            current_unit_price=draw(st.none() | st.just(Decimal("1.00"))),
        )
        for line in chosen
    )
    condition = draw(
        st.none()
        | st.builds(
            ConditionReport,
            issues=st.frozensets(st.sampled_from(ConditionIssue), max_size=3),
            gifts_returned=st.none() | st.booleans(),
            inspected=st.booleans(),
        )
    )
    request = AftersalesRequest(
        kind=draw(st.sampled_from(RequestKind)),
        reason=draw(st.sampled_from(RequestReason)),
        lines=request_lines,
        requested_at=PAID + timedelta(hours=draw(st.integers(1, 24 * 400))),
        condition=condition,
        returned_goods_received_at=draw(st.none() | st.just(PAID + timedelta(days=12))),
        seller_agreed_return_shipping=draw(st.booleans()),
    )
    return order, request


@settings(max_examples=200, deadline=None)
@given(case=cases())
def test_engine_invariants(case: tuple[PolicyOrder, AftersalesRequest]) -> None:
    order, request = case
    decision = evaluate_request(order, request)
    assert decision.allowed == (not decision.failures)
    assert decision.reasons or decision.notes
    if not decision.allowed:
        assert decision.failures and decision.max_refundable_amount == 0
    left = order.paid_amount - order.refunded_amount
    assert 0 <= decision.max_refundable_amount <= decision.refund_if_allowed
    assert decision.refund_if_allowed <= max(decision.refund_cap, Decimal("0"))
    assert decision.refund_cap <= left
    if request.kind in (RequestKind.exchange, RequestKind.resend, RequestKind.repair):
        assert decision.refund_cap == 0
    for rule in (*decision.reasons, *decision.notes):
        assert CJK.search(rule.zh) and rule.en and rule.article and rule.article_en
    for deadline in decision.deadlines:
        assert CJK.search(deadline.zh) and deadline.en and deadline.closes_at.tzinfo is not None
    assert decision.explain("zh_CN") and decision.explain("en")

"""Refund arithmetic: exact allocation, and never more back than was paid."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.aftersales.refunds import (
    Deduction,
    LineRefund,
    allocate,
    allocate_discount,
    fraud_compensation,
    money,
    net_line_amounts,
    refundable_amount,
    shipping_share,
    units_refund,
)

cents = st.integers(min_value=0, max_value=10_000_000).map(lambda c: Decimal(c).scaleb(-2))
positive_cents = st.integers(min_value=1, max_value=10_000_000).map(lambda c: Decimal(c).scaleb(-2))


def test_allocation_examples() -> None:
    assert allocate(Decimal("10.00"), [Decimal(1)] * 3) == [
        Decimal("3.34"),
        Decimal("3.33"),
        Decimal("3.33"),
    ]
    assert allocate(Decimal("40.00"), [Decimal("300"), Decimal("100")]) == [
        Decimal("30.00"),
        Decimal("10.00"),
    ]
    assert allocate(Decimal("0.01"), [Decimal("0"), Decimal("5")]) == [
        Decimal("0.00"),
        Decimal("0.01"),
    ]
    assert allocate(Decimal("1.00"), [Decimal("0"), Decimal("0")]) == [
        Decimal("0.50"),
        Decimal("0.50"),
    ]
    with pytest.raises(ValueError):
        allocate(Decimal("-1"), [Decimal("1")])
    with pytest.raises(ValueError):
        allocate_discount([Decimal("10")], Decimal("10.01"))


@given(total=cents, weights=st.lists(cents, min_size=1, max_size=30))
def test_allocation_sums_exactly_and_stays_proportional(
    total: Decimal, weights: list[Decimal]
) -> None:
    shares = allocate(total, weights)
    assert sum(shares, Decimal("0")) == total
    assert all(s >= 0 and s == money(s) for s in shares)
    whole = sum(weights, Decimal("0"))
    for share, weight in zip(shares, weights, strict=True):
        exact = total * weight / whole if whole else total / len(weights)
        assert abs(share - exact) < Decimal("0.01")
        if whole and weight == 0:
            assert share == 0


@given(lines=st.lists(positive_cents, min_size=1, max_size=20), data=st.data())
def test_discount_allocation_sums_to_the_discount_and_never_exceeds_a_line(
    lines: list[Decimal], data: st.DataObject
) -> None:
    whole_c = int(sum(lines, Decimal("0")) * 100)
    discount = Decimal(data.draw(st.integers(0, whole_c))).scaleb(-2)
    shares = allocate_discount(lines, discount)
    assert sum(shares, Decimal("0")) == discount
    assert all(0 <= s <= line for s, line in zip(shares, lines, strict=True))
    net = net_line_amounts(lines, discount)
    assert sum(net, Decimal("0")) == sum(lines, Decimal("0")) - discount
    assert all(n >= 0 for n in net)


@given(paid=cents, quantity=st.integers(1, 50), data=st.data())
def test_partial_unit_returns_sum_exactly_to_what_was_paid(
    paid: Decimal, quantity: int, data: st.DataObject
) -> None:
    refunded = Decimal("0.00")
    held = quantity
    while held:
        units = data.draw(st.integers(1, held))
        part = units_refund(paid - refunded, held, units)
        assert part >= 0
        refunded += part
        held -= units
        assert refunded <= paid
    assert refunded == paid


operation = st.one_of(
    st.tuples(st.just("units"), st.integers(0, 4), st.integers(1, 5)),
    st.tuples(st.just("money"), st.integers(0, 4), cents),
    st.tuples(st.just("shipping"), st.just(0), cents),
    st.tuples(st.just("deduct"), st.integers(0, 4), cents),
)


@settings(max_examples=300)
@given(
    lines=st.lists(st.tuples(positive_cents, st.integers(1, 6)), min_size=1, max_size=5),
    shipping=cents,
    discount_share=st.integers(0, 100),
    ops=st.lists(operation, max_size=25),
)
def test_any_sequence_of_partial_refunds_never_exceeds_paid(
    lines: list[tuple[Decimal, int]],
    shipping: Decimal,
    discount_share: int,
    ops: list[tuple[str, int, Any]],
) -> None:
    goods = [amount for amount, _ in lines]
    discount = money(sum(goods, Decimal("0")) * discount_share / 100)
    net = net_line_amounts(goods, discount)
    paid = sum(net, Decimal("0")) + shipping
    line_refunded = [Decimal("0.00")] * len(lines)
    returned = [0] * len(lines)
    order_refunded = Decimal("0.00")
    shipping_refunded = Decimal("0.00")
    for kind, index, value in ops:
        i = index % len(lines)
        quantity = lines[i][1]
        request = LineRefund(
            line_id=str(i),
            paid=net[i],
            quantity=quantity,
            refunded=line_refunded[i],
            returned_quantity=returned[i],
            units=min(int(value), quantity - returned[i]) if kind == "units" else 0,
            amount=value if kind == "money" else None,
        )
        ship = Decimal("0.00")
        if kind == "shipping":
            ship = min(value, shipping - shipping_refunded)
        deductions = [Deduction("d", value, "扣", "d")] if kind == "deduct" else []
        result = refundable_amount(
            order_paid=paid,
            order_refunded=order_refunded,
            lines=[request],
            shipping_refund=ship,
            deductions=deductions,
        )
        assert 0 <= result.total <= result.cap <= paid - order_refunded
        # Apply it: the deduction is taken from goods first, then shipping.
        goods_part = min(result.lines[0][1], result.total)
        line_refunded[i] += goods_part
        shipping_refunded += result.total - goods_part
        order_refunded += result.total
        returned[i] += request.units
        assert line_refunded[i] <= net[i]
        assert shipping_refunded <= shipping
        assert order_refunded <= paid


@given(
    fee=cents,
    already=cents,
    goods=positive_cents,
    data=st.data(),
)
def test_shipping_share_never_exceeds_what_is_left(
    fee: Decimal, already: Decimal, goods: Decimal, data: st.DataObject
) -> None:
    already = min(already, fee)
    returned = Decimal(data.draw(st.integers(0, int(goods * 100)))).scaleb(-2)
    completes = data.draw(st.booleans())
    share = shipping_share(fee, already, goods, returned, completes_order=completes)
    assert 0 <= share <= fee - already
    if completes:
        assert share == fee - already


def test_refundable_examples() -> None:
    result = refundable_amount(
        order_paid=Decimal("100.00"),
        order_refunded=Decimal("90.00"),
        lines=[LineRefund("a", Decimal("100.00"), 1, units=1)],
        shipping_refund=Decimal("5.00"),
    )
    assert result.total == Decimal("10.00") and result.goods == Decimal("10.00")
    assert result.shipping == Decimal("0.00")
    asked = refundable_amount(
        order_paid=Decimal("100.00"),
        order_refunded=Decimal("0"),
        lines=[LineRefund("a", Decimal("100.00"), 2, units=1, amount=Decimal("20.00"))],
    )
    assert asked.total == Decimal("20.00")


@pytest.mark.parametrize(
    ("price", "compensation"),
    [("100.00", "500.00"), ("166.67", "500.01"), ("1000.00", "3000.00"), ("0.00", "500.00")],
)
def test_fraud_compensation_three_times_at_least_500(price: str, compensation: str) -> None:
    assert fraud_compensation(Decimal(price)) == Decimal(compensation)

"""From the store's ORM rows to the engine's inputs (no database needed: transient objects)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kefu.aftersales.enums import ProductCategory, RequestKind, RequestReason
from kefu.aftersales.policy import (
    RequestLine,
    category_from_text,
    evaluate_request,
    policy_order_from_store,
    settings_for_store,
)
from kefu.core.errors import Invalid
from kefu.store.enums import CustomerTier, OrderStatus, ReturnExclusion
from kefu.store.models import Customer, Order, OrderItem, Product, Refund, Store
from tests.aftersales.builders import cn


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("女装/连衣裙", ProductCategory.clothing),
        ("美妆/口红", ProductCategory.cosmetics),
        ("数码/手机", ProductCategory.electronics),
        ("电脑办公/笔记本", ProductCategory.computer),
        ("大家电/冰箱", ProductCategory.home_appliance),
        ("零食/坚果", ProductCategory.food),
        ("运动鞋", ProductCategory.shoes),
        ("家纺/四件套", ProductCategory.home_textiles),
        ("clothing", ProductCategory.clothing),
        ("", ProductCategory.other),
        ("五金工具", ProductCategory.other),
    ],
)
def test_category_from_text(text: str, category: ProductCategory) -> None:
    assert category_from_text(text) is category


def _store_order() -> tuple[Store, Order, list[OrderItem], dict[int, Product], Customer]:
    store = Store(
        id=1, code="s", name="店", webhook_secret="x", timezone="Asia/Shanghai", settings={}
    )
    customer = Customer(id=3, store_id=1, external_id="c", tier="vip")
    products = {
        10: Product(
            id=10,
            store_id=1,
            external_id="p1",
            title="连衣裙",
            price=Decimal("300"),
            category="女装/连衣裙",
        ),
        11: Product(
            id=11,
            store_id=1,
            external_id="p2",
            title="面霜",
            price=Decimal("100"),
            category="美妆/护肤",
            return_exclusion="hygiene_unsealed",
        ),
    }
    items = [
        OrderItem(
            id=100,
            order_id=5,
            external_id="o1",
            product_id=10,
            title="连衣裙",
            quantity=1,
            unit_price=Decimal("300"),
            paid_amount=Decimal("300"),
            return_exclusion_confirmed=False,
        ),
        OrderItem(
            id=101,
            order_id=5,
            external_id="o2",
            product_id=11,
            title="面霜",
            quantity=1,
            unit_price=Decimal("100"),
            paid_amount=Decimal("100"),
            return_exclusion_confirmed=True,
        ),
    ]
    order = Order(
        id=5,
        store_id=1,
        external_id="T5",
        order_no="T5",
        status="TRADE_FINISHED",
        total_amount=Decimal("400"),
        shipping_fee=Decimal("0"),
        discount_amount=Decimal("40"),
        paid_amount=Decimal("360"),
        refunded_amount=Decimal("0"),
        placed_at=datetime(2026, 10, 30, 2, tzinfo=UTC),
        paid_at=datetime(2026, 10, 30, 2, tzinfo=UTC),
        shipped_at=datetime(2026, 10, 31, 2, tzinfo=UTC),
        signed_at=datetime(2026, 11, 3, 7, tzinfo=UTC),
    )
    return store, order, items, products, customer


def test_converter_builds_a_policy_order() -> None:
    store, order, items, products, customer = _store_order()
    refunds = [
        Refund(
            order_id=5,
            order_item_id=101,
            amount=Decimal("20.00"),
            idempotency_key="k",
            status="SUCCESS",
            created_at=cn(11, 4),
        ),
        Refund(
            order_id=5,
            order_item_id=101,
            amount=Decimal("50.00"),
            idempotency_key="k2",
            status="CLOSED",
            created_at=cn(11, 4),
        ),
    ]
    p = policy_order_from_store(
        order, items, products=products, store=store, customer=customer, refunds=refunds
    )
    assert p.status is OrderStatus.TRADE_FINISHED
    assert p.customer_tier is CustomerTier.vip
    assert p.order_discount == Decimal("40.00")  # 300 + 100 − 360, not yet on the lines
    assert p.refunded_amount == Decimal("20.00")
    first, second = p.lines
    assert first.line_id == "100" and first.category is ProductCategory.clothing
    assert (
        second.return_exclusion is ReturnExclusion.hygiene_unsealed and second.exclusion_confirmed
    )
    assert second.refunded_amount == Decimal("20.00")
    assert p.free_shipping

    decision = evaluate_request(
        p,
        request_for("100", cn(11, 6)),
    )
    assert decision.allowed
    assert decision.max_refundable_amount == Decimal("270.00")  # 300 less its 30 of the discount
    refused = evaluate_request(p, request_for("101", cn(11, 6)))
    assert {r.code for r in refused.failures} == {"excluded_confirmed"}


def request_for(line_id: str, at: datetime):  # type: ignore[no-untyped-def]
    from kefu.aftersales.policy import AftersalesRequest

    return AftersalesRequest(
        RequestKind.return_refund, RequestReason.no_reason, (RequestLine(line_id, 1),), at
    )


def test_converter_rejects_unknown_status_and_ignores_unknown_exclusion() -> None:
    _, order, items, products, _ = _store_order()
    products[11].return_exclusion = "whatever"
    p = policy_order_from_store(order, items, products=products)
    assert p.lines[1].return_exclusion is None
    assert p.customer_tier is CustomerTier.normal and p.timezone == "Asia/Shanghai"
    order.status = "SOMETHING"
    with pytest.raises(Invalid):
        policy_order_from_store(order, items, products=products)


def test_settings_for_store() -> None:
    store, *_ = _store_order()
    assert settings_for_store(store).no_reason_return_days == 7
    store.settings = {"aftersales": {"no_reason_return_days": 15}}
    assert settings_for_store(store).no_reason_return_days == 15
    store.settings = {"aftersales": {"no_reason_return_days": 6}}
    with pytest.raises(Invalid):
        settings_for_store(store)

"""Building the engine's inputs from the store's ORM rows, so services can call the engine.

The store keeps facts the way platforms export them; this module turns them into a
`PolicyOrder`: line ids are the order items' database ids as strings, a product's free-text
category is mapped onto `ProductCategory`, refunds recorded in `refunds` are summed per line, and
an order-level discount that the line amounts do not yet reflect is inferred from what was paid
(`goods + shipping − paid`) so the engine can spread it over the lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from kefu.aftersales.enums import ProductCategory
from kefu.aftersales.policy.inputs import PolicyGift, PolicyLine, PolicyOrder
from kefu.aftersales.refunds import ZERO, money
from kefu.aftersales.settings import (
    DEFAULT_POLICY_SETTINGS,
    AftersalesPolicySettings,
    parse_policy_settings,
)
from kefu.core.errors import Invalid
from kefu.store.enums import CustomerTier, OrderStatus, RefundStatus, ReturnExclusion
from kefu.store.models import Customer, Order, OrderItem, Product, Refund, Store

# Keyword → category, most specific first (the first match wins). Chinese shop categories are
# usually paths such as "数码/手机" or "女装/连衣裙".
CATEGORY_KEYWORDS: tuple[tuple[str, ProductCategory], ...] = (
    ("笔记本", ProductCategory.computer),
    ("电脑", ProductCategory.computer),
    ("平板", ProductCategory.electronics),
    ("电视", ProductCategory.home_appliance),
    ("冰箱", ProductCategory.home_appliance),
    ("空调", ProductCategory.home_appliance),
    ("洗衣机", ProductCategory.home_appliance),
    ("大家电", ProductCategory.home_appliance),
    ("汽车", ProductCategory.vehicle),
    ("整车", ProductCategory.vehicle),
    ("医疗", ProductCategory.medical_device),
    ("计生", ProductCategory.medical_device),
    ("保健", ProductCategory.food),
    ("食品", ProductCategory.food),
    ("零食", ProductCategory.food),
    ("茶", ProductCategory.food),
    ("酒", ProductCategory.food),
    ("生鲜", ProductCategory.food),
    ("化妆", ProductCategory.cosmetics),
    ("美妆", ProductCategory.cosmetics),
    ("护肤", ProductCategory.cosmetics),
    ("彩妆", ProductCategory.cosmetics),
    ("香水", ProductCategory.cosmetics),
    ("家纺", ProductCategory.home_textiles),
    ("床品", ProductCategory.home_textiles),
    ("四件套", ProductCategory.home_textiles),
    ("被", ProductCategory.home_textiles),
    ("鞋", ProductCategory.shoes),
    ("帽", ProductCategory.shoes),
    ("箱包", ProductCategory.bags),
    ("包", ProductCategory.bags),
    ("玩具", ProductCategory.toys),
    ("装", ProductCategory.clothing),  # 女装 男装 童装 服装 内衣/家居服 are caught here
    ("服", ProductCategory.clothing),
    ("衣", ProductCategory.clothing),
    ("裙", ProductCategory.clothing),
    ("裤", ProductCategory.clothing),
    ("手机", ProductCategory.electronics),
    ("数码", ProductCategory.electronics),
    ("耳机", ProductCategory.electronics),
    ("电器", ProductCategory.electronics),
    ("家电", ProductCategory.electronics),
    ("电子", ProductCategory.electronics),
    ("图书", ProductCategory.books),
    ("书", ProductCategory.books),
    ("家居", ProductCategory.home),
)


def category_from_text(text: str | None) -> ProductCategory:
    """Map a shop's category text (or an enum value such as "clothing") onto a category."""
    if not text:
        return ProductCategory.other
    value = text.strip()
    try:
        return ProductCategory(value.lower())
    except ValueError:
        pass
    for keyword, category in CATEGORY_KEYWORDS:
        if keyword in value:
            return category
    return ProductCategory.other


def settings_for_store(store: Store | None) -> AftersalesPolicySettings:
    """The store's policy (its `settings["aftersales"]` overrides on top of the law)."""
    if store is None or not store.settings:
        return DEFAULT_POLICY_SETTINGS
    data = store.settings.get("aftersales")
    return parse_policy_settings(data if isinstance(data, dict) else None)


def _exclusion(value: str | None) -> ReturnExclusion | None:
    if not value:
        return None
    try:
        return ReturnExclusion(value)
    except ValueError:
        # An unknown label cannot take away a statutory right: treat the goods as eligible.
        return None


def policy_order_from_store(
    order: Order,
    items: Sequence[OrderItem] | None = None,
    *,
    products: Mapping[int, Product] | None = None,
    store: Store | None = None,
    customer: Customer | None = None,
    refunds: Sequence[Refund] = (),
    returned_quantities: Mapping[int, int] | None = None,
    free_shipping_threshold: Decimal | None = None,
    standard_shipping_fee: Decimal | None = None,
    shipping_refunded: Decimal = ZERO,
    gifts: Sequence[PolicyGift] = (),
) -> PolicyOrder:
    """A `PolicyOrder` from an order, its items (loaded by the caller: relationships are
    `lazy="raise"`), their products by id, and the order's refunds."""
    lines_src = list(items if items is not None else order.items)
    if not lines_src:
        raise Invalid("订单没有商品行", "The order has no lines")
    try:
        status = OrderStatus(order.status)
    except ValueError:
        raise Invalid(
            f"无法识别的订单状态：{order.status}", f"Unknown order status: {order.status}"
        ) from None
    products = products or {}
    returned = returned_quantities or {}
    done = [r for r in refunds if r.status == RefundStatus.SUCCESS.value]
    by_item: dict[int, Decimal] = {}
    for refund in done:
        if refund.order_item_id is not None:
            by_item[refund.order_item_id] = by_item.get(refund.order_item_id, ZERO) + refund.amount
    lines = []
    for item in lines_src:
        product = products.get(item.product_id) if item.product_id is not None else None
        category = category_from_text(product.category if product else None)
        if category is ProductCategory.other:
            category = category_from_text(item.title)
        refunded = money(by_item.get(item.id, ZERO))
        returned_qty = returned.get(item.id, 0)
        if item.refund_status == RefundStatus.SUCCESS.value and refunded >= item.paid_amount:
            returned_qty = item.quantity
        lines.append(
            PolicyLine(
                line_id=str(item.id) if item.id is not None else item.external_id,
                title=item.title,
                category=category,
                quantity=item.quantity,
                unit_price=item.unit_price,
                paid_amount=item.paid_amount,
                return_exclusion=_exclusion(product.return_exclusion if product else None),
                exclusion_confirmed=bool(item.return_exclusion_confirmed),
                refunded_amount=refunded,
                returned_quantity=min(returned_qty, item.quantity),
            )
        )
    shipping = money(order.shipping_fee or ZERO)
    paid = money(order.paid_amount or ZERO)
    goods = sum((line.paid_amount for line in lines), ZERO)
    implied_discount = goods + shipping - paid if paid > 0 else ZERO
    order_refunded = max(
        money(order.refunded_amount or ZERO), money(sum((r.amount for r in done), ZERO))
    )
    try:
        tier = CustomerTier(customer.tier) if customer is not None else CustomerTier.normal
    except ValueError:
        tier = CustomerTier.normal
    return PolicyOrder(
        order_id=str(order.id) if order.id is not None else order.external_id,
        status=status,
        placed_at=order.placed_at,
        lines=tuple(lines),
        paid_amount=paid,
        timezone=store.timezone if store is not None and store.timezone else "Asia/Shanghai",
        paid_at=order.paid_at,
        shipped_at=order.shipped_at,
        signed_at=order.signed_at,
        finished_at=order.finished_at,
        refunded_amount=order_refunded,
        shipping_fee=shipping,
        shipping_refunded=shipping_refunded,
        order_discount=implied_discount if implied_discount > 0 else ZERO,
        free_shipping=shipping == 0,
        free_shipping_threshold=free_shipping_threshold,
        standard_shipping_fee=standard_shipping_fee,
        customer_tier=tier,
        gifts=tuple(gifts),
    )

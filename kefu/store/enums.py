"""Order, refund and shipment states (DOMAIN.md §2, Taobao Open Platform names)."""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    tmall = "tmall"
    taobao = "taobao"
    jd = "jd"
    pdd = "pdd"
    douyin = "douyin"
    own = "own"


class OrderStatus(StrEnum):
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    WAIT_SELLER_SEND_GOODS = "WAIT_SELLER_SEND_GOODS"
    SELLER_CONSIGNED_PART = "SELLER_CONSIGNED_PART"
    WAIT_BUYER_CONFIRM_GOODS = "WAIT_BUYER_CONFIRM_GOODS"
    TRADE_BUYER_SIGNED = "TRADE_BUYER_SIGNED"
    TRADE_FINISHED = "TRADE_FINISHED"
    TRADE_CLOSED = "TRADE_CLOSED"
    TRADE_CLOSED_BY_TAOBAO = "TRADE_CLOSED_BY_TAOBAO"


ORDER_STATUS_LABELS: dict[OrderStatus, tuple[str, str]] = {
    OrderStatus.WAIT_BUYER_PAY: ("等待买家付款", "Awaiting payment"),
    OrderStatus.WAIT_SELLER_SEND_GOODS: ("买家已付款，待发货", "Paid, awaiting shipment"),
    OrderStatus.SELLER_CONSIGNED_PART: ("部分发货", "Partly shipped"),
    OrderStatus.WAIT_BUYER_CONFIRM_GOODS: ("卖家已发货", "Shipped"),
    OrderStatus.TRADE_BUYER_SIGNED: ("买家已签收", "Signed for"),
    OrderStatus.TRADE_FINISHED: ("交易成功", "Completed"),
    OrderStatus.TRADE_CLOSED: ("交易关闭（已退款）", "Closed after refund"),
    OrderStatus.TRADE_CLOSED_BY_TAOBAO: ("交易关闭（未付款）", "Closed before payment"),
}

# States in which goods have not left the warehouse: address change and cancel allowed.
NOT_SHIPPED = frozenset({OrderStatus.WAIT_BUYER_PAY, OrderStatus.WAIT_SELLER_SEND_GOODS})
CLOSED = frozenset({OrderStatus.TRADE_CLOSED, OrderStatus.TRADE_CLOSED_BY_TAOBAO})


class RefundStatus(StrEnum):
    WAIT_SELLER_AGREE = "WAIT_SELLER_AGREE"
    WAIT_BUYER_RETURN_GOODS = "WAIT_BUYER_RETURN_GOODS"
    WAIT_SELLER_CONFIRM_GOODS = "WAIT_SELLER_CONFIRM_GOODS"
    SELLER_REFUSE_BUYER = "SELLER_REFUSE_BUYER"
    CLOSED = "CLOSED"
    SUCCESS = "SUCCESS"


class ShipmentStatus(StrEnum):
    pending = "pending"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"
    exception = "exception"
    returned = "returned"


class CustomerTier(StrEnum):
    normal = "normal"
    vip = "vip"
    svip = "svip"


class ReturnExclusion(StrEnum):
    """Why a product may be outside 7-day no-reason returns (DOMAIN.md §1, 办法 6 and 7)."""

    custom_made = "custom_made"  # always excluded
    perishable = "perishable"  # always excluded
    digital_unsealed = "digital_unsealed"  # always excluded
    periodical = "periodical"  # always excluded
    hygiene_unsealed = "hygiene_unsealed"  # only if confirmed at purchase
    value_lost_on_activation = "value_lost_on_activation"  # only if confirmed at purchase
    near_expiry_or_flawed = "near_expiry_or_flawed"  # only if confirmed at purchase

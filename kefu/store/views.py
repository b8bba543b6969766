"""View models for the customer and order pages: what a template may show, already masked.

Pages show personal data (names, phone numbers, e-mail, street addresses) only through the
masking helpers here (PIPL art. 51, DOMAIN.md §5), whatever the viewer's role: the unmasked
value is only ever sent by the reveal endpoints, one field at a time, each look audited. The
page tests check the HTML for the raw values, so a template that bypasses these fails them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kefu.core.i18n import gettext as _
from kefu.core.i18n import lazy_pair
from kefu.core.masking import mask_address_detail, mask_email, mask_name, mask_phone
from kefu.store.enums import ORDER_STATUS_LABELS, CustomerTier, OrderStatus, ShipmentStatus
from kefu.store.models import Address, CustomerIdentity, Order

# A mainland mobile number inside free text (buyer messages, memos): 1[3-9] + 9 digits.
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def redact_text(text: str | None) -> str:
    """Buyers paste phone numbers into messages; mask them there too."""
    if not text:
        return ""
    return _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def masked_region(province: str, city: str, district: str) -> str:
    """Province, city and district stay visible: agents need them for delivery questions."""
    return " ".join(part for part in (province, city, district) if part)


def masked_address(province: str, city: str, district: str, detail: str) -> str:
    region = masked_region(province, city, district)
    hidden = mask_address_detail(detail)
    return f"{region} {hidden}".strip()


def full_address(province: str, city: str, district: str, detail: str) -> str:
    return f"{masked_region(province, city, district)} {detail}".strip()


def address_masked(address: Address) -> str:
    return masked_address(address.province, address.city, address.district, address.detail)


def address_full(address: Address) -> str:
    """The unmasked address; only for the reveal endpoint."""
    parts = [
        address.receiver_name,
        address.phone,
        full_address(address.province, address.city, address.district, address.detail),
    ]
    return " ".join(p for p in parts if p)


def order_receiver_full(order: Order) -> str:
    """The unmasked receiver of an order; only for the reveal endpoint."""
    parts = [
        order.receiver_name,
        order.receiver_phone,
        full_address(order.province, order.city, order.district, order.address_detail),
    ]
    return " ".join(p for p in parts if p)


# --- labels -----------------------------------------------------------------------------

_STATUS_TONE = {
    OrderStatus.WAIT_BUYER_PAY: "warn",
    OrderStatus.WAIT_SELLER_SEND_GOODS: "info",
    OrderStatus.SELLER_CONSIGNED_PART: "info",
    OrderStatus.WAIT_BUYER_CONFIRM_GOODS: "primary",
    OrderStatus.TRADE_BUYER_SIGNED: "success",
    OrderStatus.TRADE_FINISHED: "success",
    OrderStatus.TRADE_CLOSED: "muted",
    OrderStatus.TRADE_CLOSED_BY_TAOBAO: "muted",
}


def order_status_label(status: str) -> str:
    """The Chinese platform wording agents and buyers know (English in the English UI)."""
    try:
        zh, en = ORDER_STATUS_LABELS[OrderStatus(status)]
    except ValueError:
        return status
    return lazy_pair(zh, en)


def order_status_tone(status: str) -> str:
    try:
        return _STATUS_TONE[OrderStatus(status)]
    except ValueError:
        return "muted"


def order_status_choices() -> list[tuple[str, str]]:
    return [(s.value, order_status_label(s.value)) for s in OrderStatus]


def shipment_status_label(status: str) -> str:
    labels = {
        ShipmentStatus.pending: _("Awaiting pickup"),
        ShipmentStatus.in_transit: _("In transit"),
        ShipmentStatus.out_for_delivery: _("Out for delivery"),
        ShipmentStatus.delivered: _("Delivered"),
        ShipmentStatus.exception: _("Delivery problem"),
        ShipmentStatus.returned: _("Returned to sender"),
    }
    try:
        return labels[ShipmentStatus(status)]
    except ValueError:
        return status


def shipment_status_tone(status: str) -> str:
    return {
        "delivered": "success",
        "exception": "danger",
        "returned": "muted",
        "out_for_delivery": "primary",
        "in_transit": "info",
    }.get(status, "muted")


def refund_status_label(status: str) -> str:
    labels = {
        "WAIT_SELLER_AGREE": _("Awaiting seller approval"),
        "WAIT_BUYER_RETURN_GOODS": _("Awaiting buyer's return"),
        "WAIT_SELLER_CONFIRM_GOODS": _("Awaiting receipt of return"),
        "SELLER_REFUSE_BUYER": _("Refused by seller"),
        "CLOSED": _("Refund closed"),
        "SUCCESS": _("Refunded"),
    }
    return labels.get(status, status)


def tier_label(tier: str) -> str:
    labels = {
        CustomerTier.normal: _("Regular"),
        CustomerTier.vip: "VIP",
        CustomerTier.svip: "SVIP",
    }
    try:
        return labels[CustomerTier(tier)]
    except ValueError:
        return tier


def tier_choices() -> list[tuple[str, str]]:
    return [(t.value, tier_label(t.value)) for t in CustomerTier]


def channel_label(channel: str) -> str:
    labels = {
        "taobao": _("Taobao"),
        "tmall": _("Tmall"),
        "jd": _("JD"),
        "pdd": _("Pinduoduo"),
        "douyin": _("Douyin"),
        "wechat": _("WeChat"),
        "web": _("Web chat"),
        "widget": _("Web chat"),
        "h5": _("Mobile web"),
        "email": _("Email"),
        "sms": _("SMS"),
        "phone": _("Phone"),
        "own": _("Own shop"),
    }
    return labels.get(channel, channel)


def identity_display(identity: CustomerIdentity) -> str:
    """Channel handles are shown, except where the handle itself is personal data."""
    shown = identity.display or identity.external_user_id
    if identity.channel == "email" or "@" in shown:
        return mask_email(shown)
    if identity.channel in ("sms", "phone") or re.fullmatch(r"\+?\d[\d\s-]{6,}", shown):
        return mask_phone(shown)
    return redact_text(shown)


# --- the masked customer header -----------------------------------------------------------


@dataclass(frozen=True)
class MaskedContact:
    name: str
    phone: str
    email: str


def masked_contact(name: str | None, phone: str | None, email: str | None) -> MaskedContact:
    return MaskedContact(mask_name(name), mask_phone(phone), mask_email(email))


def parse_tags(raw: str) -> list[str]:
    """Tags typed as one line: commas (also Chinese ，、), semicolons or spaces separate them."""
    parts = re.split(r"[,，、;；\s]+", raw)
    seen: list[str] = []
    for part in parts:
        tag = part.strip()
        if tag and tag not in seen:
            seen.append(tag)
    return seen

"""Ticket vocabularies: statuses and the workflow between them, priorities, complaint fields.

Labels are (Chinese, English) pairs so a page, an API error and an audit entry say the same
thing in the reader's language.
"""

from __future__ import annotations

from enum import StrEnum


class TicketStatus(StrEnum):
    new = "new"
    open = "open"
    pending_customer = "pending_customer"
    pending_internal = "pending_internal"
    resolved = "resolved"
    closed = "closed"


STATUS_LABELS: dict[str, tuple[str, str]] = {
    "new": ("新建", "New"),
    "open": ("处理中", "Open"),
    "pending_customer": ("待客户回复", "Pending customer"),
    "pending_internal": ("待内部处理", "Pending internal"),
    "resolved": ("已解决", "Resolved"),
    "closed": ("已关闭", "Closed"),
}
STATUS_TONES = {
    "new": "blue",
    "open": "purple",
    "pending_customer": "amber",
    "pending_internal": "amber",
    "resolved": "green",
    "closed": "grey",
}

# Statuses whose SLA clock may run; pending_customer keeps the ticket open but pauses the clock.
ACTIVE_STATUSES = (
    TicketStatus.new,
    TicketStatus.open,
    TicketStatus.pending_customer,
    TicketStatus.pending_internal,
)
CLOCK_RUNNING = (TicketStatus.new, TicketStatus.open, TicketStatus.pending_internal)

# The workflow an agent may drive by hand. Reopening a closed ticket is not here on purpose:
# only a customer reply reopens it (see service.record_customer_reply), so a closed ticket
# cannot be silently revived to game resolution figures.
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.new: frozenset(
        {
            TicketStatus.open,
            TicketStatus.pending_customer,
            TicketStatus.pending_internal,
            TicketStatus.resolved,
            TicketStatus.closed,
        }
    ),
    TicketStatus.open: frozenset(
        {TicketStatus.pending_customer, TicketStatus.pending_internal, TicketStatus.resolved}
    ),
    TicketStatus.pending_customer: frozenset(
        {TicketStatus.open, TicketStatus.pending_internal, TicketStatus.resolved}
    ),
    TicketStatus.pending_internal: frozenset(
        {TicketStatus.open, TicketStatus.pending_customer, TicketStatus.resolved}
    ),
    TicketStatus.resolved: frozenset({TicketStatus.open, TicketStatus.closed}),
    TicketStatus.closed: frozenset(),
}


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


PRIORITY_ORDER = ["low", "normal", "high", "urgent"]
PRIORITY_LABELS: dict[str, tuple[str, str]] = {
    "low": ("低", "Low"),
    "normal": ("普通", "Normal"),
    "high": ("高", "High"),
    "urgent": ("紧急", "Urgent"),
}
PRIORITY_TONES = {"low": "grey", "normal": "blue", "high": "amber", "urgent": "red"}


def raised(priority: str) -> str:
    """One step up, never past urgent."""
    index = PRIORITY_ORDER.index(priority) if priority in PRIORITY_ORDER else 1
    return PRIORITY_ORDER[min(index + 1, len(PRIORITY_ORDER) - 1)]


# The built-in types; shops add their own in settings (TicketType rows).
DEFAULT_TYPES: list[tuple[str, str, str]] = [
    ("inquiry", "咨询", "Inquiry"),
    ("complaint", "投诉", "Complaint"),
    ("return_exchange", "退换货", "Return / exchange"),
    ("refund", "退款", "Refund"),
    ("logistics", "物流", "Logistics"),
    ("repair", "维修", "Repair"),
    ("invoice", "发票", "Invoice"),
    ("other", "其他", "Other"),
]

SOURCE_LABELS: dict[str, tuple[str, str]] = {
    "agent": ("客服创建", "Agent"),
    "conversation": ("会话转工单", "Conversation"),
    "web_form": ("网页表单", "Web form"),
    "api": ("API", "API"),
    "email": ("邮件", "Email"),
    "automation": ("自动化", "Automation"),
}

# Departments a ticket is handed to; each is a Group (created on first use with these codes).
DEPARTMENTS: list[tuple[str, str, str]] = [
    ("dept-logistics", "物流", "Logistics"),
    ("dept-warehouse", "仓储", "Warehouse"),
    ("dept-tech", "技术", "Tech"),
    ("dept-finance", "财务", "Finance"),
]


class Severity(StrEnum):
    minor = "minor"
    major = "major"
    critical = "critical"


SEVERITY_LABELS: dict[str, tuple[str, str]] = {
    "minor": ("一般", "Minor"),
    "major": ("严重", "Major"),
    "critical": ("重大", "Critical"),
}


class Responsibility(StrEnum):
    undetermined = "undetermined"
    shop = "shop"
    logistics = "logistics"
    supplier = "supplier"
    platform = "platform"
    customer = "customer"


RESPONSIBILITY_LABELS: dict[str, tuple[str, str]] = {
    "undetermined": ("待判定", "Undetermined"),
    "shop": ("商家", "Shop"),
    "logistics": ("物流", "Logistics"),
    "supplier": ("供应商", "Supplier"),
    "platform": ("平台", "Platform"),
    "customer": ("客户", "Customer"),
}

ROOT_CAUSES: dict[str, tuple[str, str]] = {
    "quality": ("商品质量", "Product quality"),
    "description": ("描述不符", "Not as described"),
    "wrong_item": ("错发漏发", "Wrong or missing item"),
    "delivery": ("物流时效/破损", "Delivery delay or damage"),
    "service": ("服务态度", "Service attitude"),
    "policy": ("售后政策", "After-sales policy"),
    "price": ("价格/优惠", "Price or promotion"),
    "other": ("其他", "Other"),
}


class CompensationKind(StrEnum):
    refund = "refund"
    coupon = "coupon"
    gift = "gift"
    points = "points"


COMPENSATION_LABELS: dict[str, tuple[str, str]] = {
    "refund": ("退款", "Refund"),
    "coupon": ("优惠券", "Coupon"),
    "gift": ("赠品", "Gift"),
    "points": ("积分", "Points"),
}


class CompensationStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


COMPENSATION_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "pending": ("待审批", "Awaiting approval"),
    "approved": ("已批准", "Approved"),
    "rejected": ("已驳回", "Rejected"),
}

MESSAGE_KIND_LABELS: dict[str, tuple[str, str]] = {
    "customer": ("客户", "Customer"),
    "reply": ("回复客户", "Reply"),
    "note": ("内部备注", "Internal note"),
    "event": ("系统", "System"),
}

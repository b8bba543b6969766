"""Request and response shapes of the ticket API (and the forms that share them)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.tickets.enums import CompensationKind, Priority, Responsibility, Severity, TicketStatus


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20000)
    type_code: str = Field(default="inquiry", max_length=40)
    priority: Priority = Priority.normal
    customer_id: int | None = None
    order_ids: list[int] = Field(default_factory=list, max_length=20)
    conversation_id: int | None = None
    category_id: int | None = None
    tags: list[str] = Field(default_factory=list, max_length=20)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    assignee_id: int | None = None
    group_id: int | None = None
    # How to reach a customer who has no customer record (web form, offline message, email).
    contact_name: str = Field(default="", max_length=64)
    contact_email: str | None = Field(default=None, max_length=254)
    contact_phone: str | None = Field(default=None, max_length=32)

    @field_validator("contact_email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        local, _, domain = value.partition("@")
        if not local or "." not in domain or any(c in value for c in " \r\n<>,;"):
            raise ValueError("邮箱地址无效")
        return value

    @field_validator("contact_phone")
    @classmethod
    def _check_phone(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        digits = value.strip().replace(" ", "").replace("-", "")
        if not digits.lstrip("+").isdigit() or not 5 <= len(digits) <= 20:
            raise ValueError("电话号码无效")
        return digits

    @field_validator("subject")
    @classmethod
    def _strip_subject(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("标题不能为空")
        return value

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, value: list[str]) -> list[str]:
        return clean_tags(value)


def clean_tags(values: list[str]) -> list[str]:
    out: list[str] = []
    for tag in values:
        tag = tag.strip()[:30]
        if tag and tag not in out:
            out.append(tag)
    return out


class ConversationMessage(BaseModel):
    """A chat message handed over when a ticket is made from a conversation."""

    sender: Literal["customer", "agent", "bot", "system"] = "customer"
    body: str = Field(default="", max_length=20000)
    sender_name: str = ""
    sent_at: datetime | None = None
    id: int | str | None = None


class TicketUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, min_length=1, max_length=200)
    priority: Priority | None = None
    type_code: str | None = None
    category_id: int | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None


class TransitionIn(BaseModel):
    status: TicketStatus
    reason: str = Field(default="", max_length=500)


class AssignIn(BaseModel):
    assignee_id: int | None = None
    group_id: int | None = None


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=20000)


class ReplyIn(BaseModel):
    body: str = Field(min_length=1, max_length=20000)
    status: TicketStatus | None = None


class CustomerReplyIn(BaseModel):
    body: str = Field(min_length=1, max_length=20000)


class TaskIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    group_id: int | None = None
    assignee_id: int | None = None
    due_at: datetime | None = None


class ComplaintIn(BaseModel):
    severity: Severity | None = None
    responsibility: Responsibility | None = None
    root_cause: str | None = Field(default=None, max_length=20)
    customer_expectation: str | None = Field(default=None, max_length=2000)


class CompensationIn(BaseModel):
    kind: CompensationKind
    amount: Decimal = Field(ge=0, le=Decimal("1000000"), decimal_places=2)
    description: str = Field(default="", max_length=300)


class DecisionIn(BaseModel):
    approve: bool
    note: str = Field(default="", max_length=300)


class BulkIn(BaseModel):
    ticket_ids: list[int] = Field(min_length=1, max_length=500)
    action: Literal["assign", "status", "tag", "untag"]
    assignee_id: int | None = None
    group_id: int | None = None
    status: TicketStatus | None = None
    tag: str | None = Field(default=None, max_length=30)
    reason: str = Field(default="", max_length=500)


class TicketFilters(BaseModel):
    status: str | None = None  # a status, "active" (default) or "all"
    priority: str | None = None
    type_code: str | None = None
    assignee: str | None = None  # "me", "none" or a user id
    group_id: int | None = None
    tag: str | None = None
    sla: Literal["breached", "warning", "paused"] | None = None
    customer_id: int | None = None
    high_risk: bool = False
    q: str | None = None
    sort: Literal["newest", "oldest", "due", "priority", "updated"] = "newest"
    page: int = Field(default=1, ge=1, le=10000)
    per_page: int = Field(default=25, ge=1, le=100)


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    subject: str
    description: str
    type_code: str
    status: str
    priority: str
    tags: list[str]
    custom_fields: dict[str, Any]
    source: str
    store_id: int | None
    customer_id: int | None
    conversation_id: int | None
    assignee_id: int | None
    group_id: int | None
    category_id: int | None
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    next_response_due_at: datetime | None
    resolution_due_at: datetime | None
    sla_due_at: datetime | None
    sla_due_kind: str | None
    sla_paused_at: datetime | None
    breached: bool
    escalation_level: int
    is_high_risk: bool
    is_repeat: bool
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    author_id: int | None
    author_name: str
    body: str
    mentions: list[int]
    created_at: datetime


class TicketDetailOut(TicketOut):
    order_ids: list[int] = Field(default_factory=list)
    watcher_ids: list[int] = Field(default_factory=list)
    messages: list[MessageOut] = Field(default_factory=list)


class TicketPage(BaseModel):
    items: list[TicketOut]
    page: int
    per_page: int
    has_more: bool


class CompensationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_id: int
    kind: str
    amount: Decimal
    description: str
    status: str
    required_role: str
    proposed_by_id: int | None
    decided_by_id: int | None

"""Request and response shapes of the after-sales API (and the forms that share them)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kefu.aftersales.enums import CaseStatus, ConditionIssue, RequestKind, RequestReason


def _text(value: str, limit: int) -> str:
    return value.strip()[:limit]


class CaseLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_item_id: int = Field(gt=0)
    quantity: int = Field(default=1, ge=0, le=9999)
    # Money-only asks (price protection, a missing part): the amount asked for this line.
    amount: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    # Today's unit price, for price protection.
    current_unit_price: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)


class OverrideIn(BaseModel):
    """An approver's decision against the policy engine; the reason is audited and shown."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    amount: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("请填写改判理由")
        return value


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: int = Field(gt=0)
    kind: RequestKind
    reason: RequestReason
    lines: list[CaseLineIn] = Field(min_length=1, max_length=50)
    description: str = Field(default="", max_length=2000)
    condition: list[ConditionIssue] = Field(default_factory=list, max_length=20)
    gifts_returned: bool | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=64)
    conversation_id: int | None = Field(default=None, gt=0)
    ticket_id: int | None = Field(default=None, gt=0)
    override: OverrideIn | None = None

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        return _text(value, 2000)

    @model_validator(mode="after")
    def _distinct_lines(self) -> CaseCreate:
        ids = [line.order_item_id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError("同一商品行不能重复申请")
        return self


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=500)
    override: OverrideIn | None = None


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("请填写拒绝理由")
        return value


class TrackingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(min_length=1, max_length=40)
    tracking_no: str = Field(min_length=6, max_length=40, pattern=r"^[A-Za-z0-9-]+$")

    @field_validator("carrier", "tracking_no", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=1000)


class InspectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passed: bool
    note: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _failure_needs_note(self) -> InspectIn:
        if not self.passed and not self.note.strip():
            raise ValueError("验货不通过时请写明问题")
        return self


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Required only to refund after a failed inspection (an approver's override).
    override_reason: str | None = Field(default=None, max_length=500)


class ReshipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(default="", max_length=40)
    tracking_no: str = Field(default="", max_length=40)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class CaseFilters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: CaseStatus | Literal["open", "all", "todo"] | None = None
    kind: RequestKind | None = None
    overdue: bool = False
    store_id: int | None = None
    order_id: int | None = None
    customer_id: int | None = None
    q: str | None = Field(default=None, max_length=64)
    page: int = Field(default=1, ge=1, le=10000)
    per_page: int = Field(default=30, ge=1, le=100)


class CaseLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_item_id: int
    title: str
    sku_desc: str
    quantity: int
    amount: Decimal


class CaseEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    action: str
    from_status: str | None
    to_status: str | None
    actor_kind: str
    actor_name: str
    note: str
    customer_visible: bool


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    store_id: int
    order_id: int
    customer_id: int | None
    kind: str
    reason: str
    status: str
    source: str
    description: str
    external_id: str | None
    decision_allowed: bool
    explanation_zh: str
    explanation_en: str
    override_reason: str | None
    rejection_reason: str | None
    refund_amount: Decimal
    refunded_amount: Decimal
    return_address: str
    return_carrier: str
    return_tracking_no: str
    answer_due_at: datetime | None
    return_due_at: datetime | None
    escalated_at: datetime | None
    closed_at: datetime | None
    close_reason: str
    conversation_id: int | None
    ticket_id: int | None
    created_at: datetime
    updated_at: datetime


class CaseDetailOut(CaseOut):
    decision: dict[str, Any]
    lines: list[CaseLineOut] = Field(default_factory=list)
    events: list[CaseEventOut] = Field(default_factory=list)
    photo_ids: list[int] = Field(default_factory=list)


class CasePage(BaseModel):
    items: list[CaseOut]
    page: int
    per_page: int
    has_more: bool


class DecisionOut(BaseModel):
    allowed: bool
    explanation_zh: str
    explanation_en: str
    refund_amount: Decimal
    decision: dict[str, Any]

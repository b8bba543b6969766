"""JSON shapes of the order-service API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CheckOrderOut(BaseModel):
    order_id: int
    order_no: str
    store_id: int
    status: str
    since: datetime
    age_hours: float
    customer_id: int | None
    customer_tier: str | None
    open_flags: int
    open_stockouts: int


class CheckListOut(BaseModel):
    tab: str
    page: int
    has_next: bool
    counts: dict[str, int]
    items: list[CheckOrderOut]


class WorkOut(BaseModel):
    id: int
    store_id: int
    customer_id: int | None
    note: str
    recorded_by_name: str
    recorded_at: datetime | None
    asked_at: datetime | None
    ask_count: int


class FlagOut(WorkOut):
    kind: str
    status: str
    sku_id: int | None
    order_ids: list[int]


class StockoutOut(WorkOut):
    order_id: int
    sku_id: int
    choice: str | None


class AddressTaskOut(WorkOut):
    order_id: int
    status: str


class ResolveFlagIn(BaseModel):
    status: str
    note: str = Field(default="", max_length=1000)
    cancel_order_id: int | None = None


class StockoutAnswerIn(BaseModel):
    choice: str
    note: str = Field(default="", max_length=1000)


class AddressAnswerIn(BaseModel):
    status: str
    note: str = Field(default="", max_length=1000)


class MergeRequestIn(BaseModel):
    order_ids: list[int] = Field(min_length=2, max_length=20)
    note: str = Field(default="", max_length=1000)


class AskIn(BaseModel):
    ask_no: int | None = None


class AskOut(BaseModel):
    text: str
    conversation_id: int | None
    posted: bool


class AddressIn(BaseModel):
    receiver_name: str = Field(max_length=64)
    phone: str = Field(max_length=32)
    province: str = Field(max_length=20)
    city: str = Field(max_length=30)
    district: str = Field(default="", max_length=30)
    detail: str = Field(max_length=200)


class ActionOut(BaseModel):
    action: str
    order_id: int
    message_zh: str
    message_en: str

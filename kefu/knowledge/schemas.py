"""Request and response bodies of the knowledge base."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

# Where an answer may be used. "help" is the public help center at /help/{store}.
Channel = Literal["web", "h5", "email", "help"]
CHANNELS: tuple[Channel, ...] = ("web", "h5", "email", "help")
CHANNEL_LABELS: dict[str, tuple[str, str]] = {
    "web": ("网页聊天", "Web chat"),
    "h5": ("移动端 H5", "Mobile web"),
    "email": ("邮件", "Email"),
    "help": ("帮助中心", "Help center"),
}

MAX_SIMILAR = 50


def _clean_list(values: list[str], max_len: int) -> list[str]:
    """Trimmed, without blanks or repeats, in the order given."""
    out: list[str] = []
    for value in values:
        text = " ".join(str(value).split())
        if not text:
            continue
        if len(text) > max_len:
            raise ValueError(f"每项最多 {max_len} 个字")
        if text not in out:
            out.append(text)
    return out


class FaqIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str | None = Field(default=None, max_length=64)
    question: str = Field(min_length=1, max_length=300)
    similar: list[str] = Field(default_factory=list)
    answer: str = Field(min_length=1, max_length=20000)
    category: str = Field(default="", max_length=60)
    all_stores: bool = True
    store_ids: list[int] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    enabled: bool = True

    @field_validator("external_id")
    @classmethod
    def _external_id(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("similar")
    @classmethod
    def _similar(cls, value: list[str]) -> list[str]:
        cleaned = _clean_list(value, 300)
        if len(cleaned) > MAX_SIMILAR:
            raise ValueError(f"相似问题最多 {MAX_SIMILAR} 条")
        return cleaned

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[Channel]) -> list[Channel]:
        return [c for c in CHANNELS if c in value]

    @model_validator(mode="after")
    def _scope_and_period(self) -> FaqIn:
        self.similar = [s for s in self.similar if s != self.question]
        if self.all_stores:
            self.store_ids = []
        elif not self.store_ids:
            raise ValueError("请至少选择一个适用店铺，或选择“全部店铺”")
        self.store_ids = sorted(set(self.store_ids))
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("失效时间必须晚于生效时间")
        return self


class FaqOut(BaseModel):
    id: int
    external_id: str | None
    question: str
    similar: list[str]
    answer: str
    answer_html: str
    answer_text: str
    category: str
    all_stores: bool
    store_ids: list[int]
    channels: list[str]
    valid_from: datetime | None
    valid_until: datetime | None
    enabled: bool
    status: str
    version: int
    updated_at: datetime
    updated_by: str


class FaqPage(BaseModel):
    items: list[FaqOut]
    total: int
    page: int
    per_page: int


class EnabledIn(BaseModel):
    enabled: bool


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=100000)
    category: str = Field(default="", max_length=60)
    tags: list[str] = Field(default_factory=list)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        cleaned = _clean_list(value, 30)
        if len(cleaned) > 20:
            raise ValueError("标签最多 20 个")
        return cleaned


class ArticleOut(BaseModel):
    id: int
    title: str
    body: str
    body_html: str
    category: str
    tags: list[str]
    version: int
    updated_at: datetime
    updated_by: str


class ArticlePage(BaseModel):
    items: list[ArticleOut]
    total: int
    page: int
    per_page: int


class VersionOut(BaseModel):
    version: int
    action: str
    at: datetime
    actor_name: str
    snapshot: dict[str, Any]
    changed: list[str]


class RowErrorOut(BaseModel):
    row: int
    external_id: str | None
    field: str
    message_zh: str
    message_en: str


class ImportReportOut(BaseModel):
    total: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    applied: bool
    errors: list[RowErrorOut]

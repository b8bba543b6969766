"""A store's chat routing settings: skill groups per entry, strategy, VIP first, sticky agent,
business hours.

Stored in `Store.settings["chat_routing"]`; automatic assignment itself stays switched by
`Store.settings["routing"] == "auto"` (older stores keep working unchanged). Everything has a
default, so a store that never opened the settings page routes as before: least busy, VIP
first, back to the last agent for 7 days, always open.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import Group
from kefu.core.audit import Actor, record_audit
from kefu.core.errors import Invalid, NotFound, field_errors
from kefu.store.models import Store

Strategy = Literal["least_busy", "round_robin"]
_TOPIC = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class EntryRoute(BaseModel):
    """One entry point of the chat (售前, 售后 …): the widget's `topic` and its skill group."""

    topic: str = Field(min_length=1, max_length=32)
    label: str = Field(min_length=1, max_length=20)
    group_id: int | None = None

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        value = value.strip().lower()
        if not _TOPIC.match(value):
            raise ValueError("topic: a-z, 0-9, - and _")
        return value

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        return value.strip()


class ChatHours(BaseModel):
    """Weekly opening hours of the chat, in the store's time zone. Days off of the holiday
    calendar (kefu.tickets.calendar, edited under ticket settings) close it too, and its
    adjusted working days (调休) open it."""

    enabled: bool = False
    day_start: time = time(9, 0)
    day_end: time = time(22, 0)
    weekdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4, 5, 6])
    holidays: bool = True

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in value):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))

    @model_validator(mode="after")
    def _order(self) -> ChatHours:
        if self.enabled and self.day_end <= self.day_start:
            raise ValueError("day_end must be after day_start")
        return self

    def label(self) -> str:
        return f"{self.day_start:%H:%M}–{self.day_end:%H:%M}"


class ChatRouting(BaseModel):
    strategy: Strategy = "least_busy"
    default_group_id: int | None = None
    entries: list[EntryRoute] = Field(default_factory=list, max_length=8)
    vip_first: bool = True
    sticky_days: int = Field(default=7, ge=0, le=90)
    hours: ChatHours = Field(default_factory=ChatHours)

    @model_validator(mode="after")
    def _unique_topics(self) -> ChatRouting:
        topics = [e.topic for e in self.entries]
        if len(topics) != len(set(topics)):
            raise ValueError("each topic may appear once")
        return self

    def group_for(self, topic: str | None) -> int | None:
        """The skill group of an entry point; unknown or missing topics use the default."""
        for entry in self.entries:
            if topic and entry.topic == topic.strip().lower():
                return entry.group_id if entry.group_id is not None else self.default_group_id
        return self.default_group_id


def chat_routing(store: Store | None) -> ChatRouting:
    raw = (store.settings or {}).get("chat_routing") if store is not None else None
    if not isinstance(raw, dict):
        return ChatRouting()
    try:
        return ChatRouting.model_validate(raw)
    except ValidationError:
        # A hand-edited setting must not stop the chat; the settings page shows the defaults.
        return ChatRouting()


def public_entries(store: Store) -> list[dict[str, str]]:
    """The entry menu shown to visitors (no group ids: those are internal)."""
    return [{"topic": e.topic, "label": e.label} for e in chat_routing(store).entries]


async def save_chat_routing(
    session: AsyncSession,
    actor: Actor,
    store_id: int,
    data: dict[str, Any],
    *,
    auto: bool,
) -> ChatRouting:
    """Validate and store a store's routing settings (and the auto/manual switch), audited."""
    store = await session.get(Store, store_id)
    if store is None:
        raise NotFound("店铺不存在", "Store not found")
    try:
        routing = ChatRouting.model_validate(data)
    except ValidationError as exc:
        problems = field_errors(list(exc.errors()))
        raise Invalid(
            "路由设置有误：" + "；".join(f"{p['field']} {p['message_zh']}" for p in problems),
            "Invalid routing settings: " + "; ".join(p["message_en"] for p in problems),
            errors=problems,
        ) from exc
    wanted = {g for g in [routing.default_group_id, *(e.group_id for e in routing.entries)] if g}
    for group_id in wanted:
        if await session.get(Group, group_id) is None:
            raise Invalid("所选技能组不存在", "A chosen skill group does not exist")
    before = {
        "routing": (store.settings or {}).get("routing"),
        "chat_routing": (store.settings or {}).get("chat_routing"),
    }
    stored = routing.model_dump(mode="json")
    # A new dict, so SQLAlchemy sees the JSON column change.
    store.settings = {**(store.settings or {}), "routing": "auto" if auto else "manual"}
    store.settings = {**store.settings, "chat_routing": stored}
    await record_audit(
        session,
        actor,
        "store.chat_routing",
        "store",
        store.id,
        before=before,
        after={"routing": store.settings["routing"], "chat_routing": stored},
        store_id=store.id,
    )
    await session.flush()
    return routing

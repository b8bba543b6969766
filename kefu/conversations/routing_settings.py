"""A store's chat routing settings: skill groups per entry, strategy, VIP first, sticky agent,
business hours, and per group its own hours and overflow (`GroupRule`, see overflow.py).

Stored in `Store.settings["chat_routing"]`; automatic assignment itself stays switched by
`Store.settings["routing"] == "auto"` (older stores keep working unchanged). Everything has a
default, so a store that never opened the settings page routes as before: least busy, VIP
first, back to the last agent for 7 days, always open.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import Group
from kefu.core.audit import Actor
from kefu.core.errors import Invalid
from kefu.store.models import Store
from kefu.store.settings_sections import (
    parse_section,
    read_section,
    save_sections,
    store_for_settings,
)

Strategy = Literal["least_busy", "round_robin"]
# no_agent: nobody of the group can take a chat now; wait_over: the group's longest wait has
# reached N seconds; queue_over: N chats already wait in the group.
OverflowTrigger = Literal["no_agent", "wait_over", "queue_over"]
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

    @field_validator("day_end")
    @classmethod
    def _until_midnight(cls, value: time) -> time:
        # A time field cannot say 24:00: closing at 23:59 means open to the end of the day.
        return time.max if (value.hour, value.minute) == (23, 59) else value

    @model_validator(mode="after")
    def _order(self) -> ChatHours:
        if self.enabled and self.day_end <= self.day_start:
            raise ValueError("day_end must be after day_start")
        return self

    def label(self) -> str:
        end = "24:00" if self.day_end == time.max else f"{self.day_end:%H:%M}"
        return f"{self.day_start:%H:%M}–{end}"


class GroupRule(BaseModel):
    """One skill group's own hours and where its chats overflow to.

    `hours.enabled` false means the group keeps the store's chat hours. `overflow_after` is
    seconds for `wait_over` and chats for `queue_over`; `no_agent` ignores it.
    """

    hours: ChatHours = Field(default_factory=ChatHours)
    overflow_group_id: int | None = None
    overflow_when: OverflowTrigger = "no_agent"
    overflow_after: int = Field(default=120, ge=1, le=86400)

    def matters(self) -> bool:
        return self.hours.enabled or self.overflow_group_id is not None


class ChatRouting(BaseModel):
    strategy: Strategy = "least_busy"
    default_group_id: int | None = None
    entries: list[EntryRoute] = Field(default_factory=list, max_length=8)
    vip_first: bool = True
    sticky_days: int = Field(default=7, ge=0, le=90)
    hours: ChatHours = Field(default_factory=ChatHours)
    # Keyed by group id (strings in the stored JSON).
    groups: dict[int, GroupRule] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_topics(self) -> ChatRouting:
        topics = [e.topic for e in self.entries]
        if len(topics) != len(set(topics)):
            raise ValueError("each topic may appear once")
        return self

    def rule(self, group_id: int | None) -> GroupRule | None:
        return self.groups.get(group_id) if group_id is not None else None

    def entry_groups(self) -> set[int | None]:
        """Groups a new chat can start in (None: any agent), before any overflow."""
        return {self.default_group_id, *(self.group_for(e.topic) for e in self.entries)}

    def overflow_loop(self) -> list[int] | None:
        """The group ids of an overflow loop (first id repeated at the end), if there is one."""
        for start in sorted(self.groups):
            path = [start]
            current = self.groups[start].overflow_group_id
            while current is not None:
                if current in path:
                    return [*path[path.index(current) :], current]
                path.append(current)
                rule = self.groups.get(current)
                current = rule.overflow_group_id if rule is not None else None
        return None

    def group_for(self, topic: str | None) -> int | None:
        """The skill group of an entry point; unknown or missing topics use the default."""
        for entry in self.entries:
            if topic and entry.topic == topic.strip().lower():
                return entry.group_id if entry.group_id is not None else self.default_group_id
        return self.default_group_id


class OverflowLoop(Invalid):
    code = "overflow_loop"

    def __init__(self, path: str) -> None:
        super().__init__(
            f"溢出设置形成了循环（{path}），会话会在这些组之间来回转：请改掉其中一个组的溢出目标",
            f"The overflow settings form a loop ({path}): chats would bounce between these "
            "groups. Change the overflow target of one of them.",
            errors=[
                {
                    "field": "groups",
                    "message_zh": f"溢出形成循环：{path}",
                    "message_en": f"Overflow loop: {path}",
                }
            ],
        )


def chat_routing(store: Store | None) -> ChatRouting:
    # A hand-edited setting must not stop the chat; the settings page shows the defaults.
    return read_section(store, "chat_routing", ChatRouting)


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
    store = await store_for_settings(session, store_id)
    routing = parse_section(ChatRouting, data, "路由设置", "routing settings")
    routing.groups = {g: rule for g, rule in routing.groups.items() if rule.matters()}
    overflow = [r.overflow_group_id for r in routing.groups.values()]
    wanted = {
        g
        for g in [
            routing.default_group_id,
            *(e.group_id for e in routing.entries),
            *routing.groups,
            *overflow,
        ]
        if g
    }
    names: dict[int, str] = {}
    for group_id in wanted:
        found = await session.get(Group, group_id)
        if found is None:
            raise Invalid("所选技能组不存在", "A chosen skill group does not exist")
        names[group_id] = found.name
    loop = routing.overflow_loop()
    if loop is not None:
        raise OverflowLoop(" → ".join(names[g] for g in loop))
    mode = "auto" if auto else "manual"
    await save_sections(
        session, actor, store, "store.chat_routing", {"routing": mode, "chat_routing": routing}
    )
    return routing

"""Per-group hours and overflow between skill groups.

A group may keep its own weekly hours (`GroupRule.hours`, in the store's time zone and, when
ticked, following the shop's holiday calendar like the store's chat hours) and name an
overflow group with a trigger. Before a waiting, unassigned chat is routed, `apply_overflow`
looks at its group:

* the group is closed by its own hours, or its trigger fires: `no_agent` (no member can take a
  chat now), `wait_over` (the longest wait in the group's queue has reached N seconds; a chat
  counts from when it entered the group) or `queue_over` (N chats already wait ahead of it);
* and the overflow group is open.

Then the chat moves to the overflow group: an internal `transferred` row by 自动分配 says why,
an audit entry records it, and the context keeps `original_group_id` (the group it started
in, for reports) and `overflow` (every hop). Each hop is judged by the rule of the group the
chat leaves, so it crosses A → B → C only when A and then B each give it up; a group already
visited ends the walk (saving refuses loops; a hand-edited setting must not spin).

A closed group with no open overflow group keeps its chats waiting ("该组已下班") and routing
does not hand them out until it opens. When every group a new chat of the store can start in
(and their overflow groups) is closed, the widget shows the offline message form exactly as
outside the store's hours (`outlook`, used by `queue.availability`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import Group
from kefu.conversations.models import Conversation
from kefu.conversations.routing_settings import ChatRouting, GroupRule
from kefu.core.audit import record_audit
from kefu.store.models import Store

# How many of a group's waiting chats the wait and length triggers look at.
_QUEUE_SCAN = 500


@dataclass
class GroupClock:
    """Whether groups are open at `now`, each group computed once per routing pass."""

    session: AsyncSession
    store: Store
    settings: ChatRouting
    now: datetime
    _seen: dict[int, tuple[bool, str, datetime | None]] = field(default_factory=dict)

    async def state(self, group_id: int | None) -> tuple[bool, str, datetime | None]:
        """(open, closed | holiday, next opening); a group without own hours is open."""
        rule = self.settings.rule(group_id)
        if group_id is None or rule is None or not rule.hours.enabled:
            return True, "", None
        if group_id not in self._seen:
            from kefu.conversations import queue

            self._seen[group_id] = await queue.opening(
                self.session, self.store, rule.hours, self.now
            )
        return self._seen[group_id]

    async def is_open(self, group_id: int | None) -> bool:
        return (await self.state(group_id))[0]


def _joined_at(group_id: int, waiting_since: datetime | None, context: dict[str, Any]) -> Any:
    """When the chat entered this group: its last overflow hop into it, else when it began
    to wait (a chat moved by hand counts its whole wait)."""
    hops = (context or {}).get("overflow") or []
    if hops and hops[-1].get("to_group_id") == group_id:
        try:
            return datetime.fromisoformat(hops[-1]["at"])
        except (KeyError, TypeError, ValueError):
            pass
    return waiting_since


async def _others_waiting(session: AsyncSession, group_id: int, conversation_id: int) -> list[Any]:
    return list(
        (
            await session.execute(
                select(Conversation.id, Conversation.waiting_since, Conversation.context)
                .where(
                    Conversation.group_id == group_id,
                    Conversation.status == "open",
                    Conversation.assignee_id.is_(None),
                    Conversation.waiting_since.is_not(None),
                    Conversation.id != conversation_id,
                )
                .order_by(Conversation.waiting_since, Conversation.id)
                .limit(_QUEUE_SCAN)
            )
        ).all()
    )


async def trigger_fires(
    session: AsyncSession,
    conversation: Conversation,
    group_id: int,
    rule: GroupRule,
    now: datetime,
) -> bool:
    from kefu.conversations import routing

    if rule.overflow_when == "no_agent":
        return not await routing.available_agents(session, group_id=group_id)
    others = await _others_waiting(session, group_id, conversation.id)
    mine = conversation.waiting_since or now
    if rule.overflow_when == "queue_over":
        ahead = [r for r in others if (r.waiting_since, r.id) < (mine, conversation.id)]
        return len(ahead) >= rule.overflow_after
    joined = [_joined_at(group_id, r.waiting_since, r.context) for r in others]
    joined.append(_joined_at(group_id, mine, conversation.context))
    longest = max((now - t).total_seconds() for t in joined if t is not None)
    return longest >= rule.overflow_after


def explain(reason: str, rule: GroupRule, source: str, target: str) -> tuple[str, str]:
    """Why a chat overflowed, in Chinese and English, for the log and the audit entry."""
    if reason == "closed":
        hours = rule.hours.label()
        zh = f"{source}已下班（服务时间 {hours}），转到{target}"
        en = f"{source} is closed (hours {hours}); moved to {target}"
    elif reason == "no_agent":
        zh = f"{source}暂无可接待的客服，转到{target}"
        en = f"Nobody in {source} can take a chat; moved to {target}"
    elif reason == "wait_over":
        zh = f"{source}排队已超过 {rule.overflow_after} 秒，转到{target}"
        en = f"The wait in {source} reached {rule.overflow_after} s; moved to {target}"
    else:
        zh = f"{source}排队已达 {rule.overflow_after} 人，转到{target}"
        en = f"{rule.overflow_after} chats already wait in {source}; moved to {target}"
    return zh, en


async def _hop(
    session: AsyncSession,
    conversation: Conversation,
    rule: GroupRule,
    target_id: int,
    reason: str,
    now: datetime,
) -> Any:
    from kefu.conversations import routing, service

    source = await session.get(Group, conversation.group_id)
    target = await session.get(Group, target_id)
    if source is None or target is None:  # a group deleted since the settings were saved
        return None
    why_zh, why_en = explain(reason, rule, source.name, target.name)
    context = dict(conversation.context or {})
    context.setdefault("original_group_id", source.id)
    hop = {"from_group_id": source.id, "to_group_id": target.id, "reason": reason}
    context["overflow"] = [*(context.get("overflow") or []), {**hop, "at": now.isoformat()}]
    conversation.context = context  # a new dict, so the JSON column is written
    conversation.group_id = target.id
    event = service._append(
        session,
        conversation,
        "transferred",
        routing.ROUTER,
        audience="internal",
        data={
            "assignee_id": None,
            "assignee_name": "",
            "previous_assignee_id": None,
            "group_id": target.id,
            "group_name": target.name,
            "from_group_id": source.id,
            "from_group_name": source.name,
            "overflow": reason,
            "why": {"zh": why_zh, "en": why_en},
        },
    )
    await record_audit(
        session,
        routing.ROUTER,
        "conversation.overflow",
        "conversation",
        conversation.id,
        before={"group_id": source.id},
        after={"group_id": target.id, "reason": reason, "why": why_zh},
        store_id=conversation.store_id,
    )
    return event, None


async def apply_overflow(
    session: AsyncSession, clock: GroupClock, conversation: Conversation
) -> list[Any]:
    """Move a waiting, unassigned chat along its groups' overflow rules, one logged hop per
    group that gives it up; returns the log rows (service.Row) to publish."""
    rows: list[Any] = []
    if conversation.assignee_id is not None or conversation.status != "open":
        return rows
    visited: set[int] = set()
    while conversation.group_id is not None and conversation.group_id not in visited:
        group_id = conversation.group_id
        visited.add(group_id)
        rule = clock.settings.rule(group_id)
        target = rule.overflow_group_id if rule is not None else None
        if rule is None or target is None or target in visited:
            break
        if not await clock.is_open(group_id):
            reason = "closed"
        elif await trigger_fires(session, conversation, group_id, rule, clock.now):
            reason = rule.overflow_when
        else:
            break
        if not await clock.is_open(target):
            break
        row = await _hop(session, conversation, rule, target, reason, clock.now)
        if row is None:
            break
        rows.append(row)
    return rows


# --- what a customer about to write is told --------------------------------------------


@dataclass(frozen=True)
class GroupOutlook:
    """Where a new chat would wait now and whether that group is open.

    `closed`: the group (and every open overflow group it could reach) is closed;
    `everywhere_closed`: so is every group a chat of this store can start in."""

    group_id: int | None
    closed: bool = False
    everywhere_closed: bool = False
    hours: str = ""
    next_open: datetime | None = None


async def _landing(
    session: AsyncSession, clock: GroupClock, group_id: int | None
) -> tuple[int | None, bool]:
    """(group a chat starting in `group_id` ends up in, whether that group is open)."""
    from kefu.conversations import routing

    visited: set[int] = set()
    while group_id is not None and group_id not in visited:
        visited.add(group_id)
        rule = clock.settings.rule(group_id)
        target = rule.overflow_group_id if rule is not None else None
        is_open = await clock.is_open(group_id)
        if rule is None or target is None or target in visited:
            return group_id, is_open
        if is_open and not (
            rule.overflow_when == "no_agent" and not await routing.anyone_online(session, group_id)
        ):
            return group_id, True
        if not await clock.is_open(target):
            return group_id, is_open
        group_id = target
    return group_id, await clock.is_open(group_id)


async def outlook(
    session: AsyncSession,
    store: Store,
    settings: ChatRouting,
    group_id: int | None,
    now: datetime,
) -> GroupOutlook:
    if not settings.groups:
        return GroupOutlook(group_id)
    clock = GroupClock(session, store, settings, now)
    landing, is_open = await _landing(session, clock, group_id)
    if is_open:
        return GroupOutlook(landing)
    everywhere_closed = True
    for start in settings.entry_groups():
        if (await _landing(session, clock, start))[1]:
            everywhere_closed = False
            break
    rule = settings.rule(landing)
    _, _, next_open = await clock.state(landing)
    hours = rule.hours.label() if rule is not None else ""
    return GroupOutlook(landing, True, everywhere_closed, hours, next_open)

"""Rules for canned replies: who sees and edits which reply, search, and filling in variables.

Visibility: every agent sees the shared replies plus their own personal ones; nobody sees
another agent's personal replies (they answer 404, as if they did not exist). Editing shared
replies needs knowledge.write; personal ones only their owner may change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.deps import Principal
from kefu.accounts.permissions import Permission
from kefu.conversations.models import Conversation
from kefu.core.audit import record_audit
from kefu.core.errors import Forbidden, NotFound
from kefu.core.masking import mask_name
from kefu.knowledge.canned_models import CannedReply
from kefu.store.models import Customer, Order, Shipment

Scope = Literal["all", "personal", "shared"]
VARIABLES = ("customer.name", "order.no", "order.tracking_no", "agent.name")
# Only `{{ dotted.name }}`: the body is never handed to a template engine, so whatever an agent
# types cannot execute anything.
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
_SHORTCUT = re.compile(r"^[A-Za-z0-9_\-]*$")


class CannedIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=120)
    body: str = Field(min_length=1, max_length=5000)
    shortcut: str = Field(default="", max_length=30)
    category: str = Field(default="", max_length=60)
    store_id: int | None = None
    shared: bool = False
    is_active: bool = True

    @field_validator("shortcut")
    @classmethod
    def _shortcut(cls, value: str) -> str:
        value = value.lstrip("/").lower()
        if not _SHORTCUT.match(value):
            raise ValueError("只能包含字母、数字、- 和 _ / letters, digits, - and _ only")
        return value


def render_canned(body: str, context: Mapping[str, str]) -> str:
    """Fill `{{name}}` variables from `context`; unknown or missing ones become ''."""
    return _VARIABLE.sub(lambda m: str(context.get(m.group(1)) or ""), body)


def _search_text(reply: CannedReply) -> str:
    return " ".join([reply.shortcut, reply.title, reply.category, reply.body]).lower()


def _snapshot(reply: CannedReply) -> dict[str, Any]:
    return {
        "title": reply.title,
        "body": reply.body,
        "shortcut": reply.shortcut,
        "category": reply.category,
        "store_id": reply.store_id,
        "owner_id": reply.owner_id,
        "is_active": reply.is_active,
    }


def can_edit(principal: Principal, reply: CannedReply) -> bool:
    if reply.owner_id is None:
        return principal.can(Permission.knowledge_write)
    return reply.owner_id == principal.user.id


def _check_edit(principal: Principal, reply: CannedReply) -> None:
    if not can_edit(principal, reply):
        raise Forbidden(
            "共享快捷回复需要「知识库编辑」权限（knowledge.write）才能修改",
            "Changing shared canned replies needs the knowledge.write permission",
        )


@dataclass(frozen=True)
class CannedFilters:
    q: str = ""
    scope: Scope = "all"
    store_id: int | None = None
    active_only: bool = False


async def list_canned(
    session: AsyncSession, principal: Principal, filters: CannedFilters, limit: int = 500
) -> list[CannedReply]:
    user_id = principal.user.id
    stmt = select(CannedReply)
    if filters.scope == "personal":
        stmt = stmt.where(CannedReply.owner_id == user_id)
    elif filters.scope == "shared":
        stmt = stmt.where(CannedReply.owner_id.is_(None))
    else:
        stmt = stmt.where(or_(CannedReply.owner_id.is_(None), CannedReply.owner_id == user_id))
    if filters.store_id is not None:
        stmt = stmt.where(
            or_(CannedReply.store_id.is_(None), CannedReply.store_id == filters.store_id)
        )
    if filters.active_only:
        stmt = stmt.where(CannedReply.is_active.is_(True))
    for word in filters.q.lower().lstrip("/").split()[:5]:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(CannedReply.search_text.like(f"%{escaped}%", escape="\\"))
    stmt = stmt.order_by(CannedReply.category, CannedReply.shortcut, CannedReply.title)
    rows = list((await session.scalars(stmt.limit(limit))).all())
    if filters.q:
        # Shortcut matches first: typing `/fh` should put the `fh` reply on top.
        q = filters.q.lower().lstrip("/").strip()
        rows.sort(key=lambda r: (not r.shortcut.startswith(q), r.shortcut != q))
    return rows


async def get_canned(session: AsyncSession, principal: Principal, reply_id: int) -> CannedReply:
    reply = await session.get(CannedReply, reply_id)
    if reply is None or (reply.owner_id is not None and reply.owner_id != principal.user.id):
        raise NotFound("找不到该快捷回复", "Canned reply not found")
    return reply


async def create_canned(session: AsyncSession, principal: Principal, data: CannedIn) -> CannedReply:
    reply = CannedReply(
        owner_id=None if data.shared else principal.user.id,
        store_id=data.store_id,
        category=data.category,
        shortcut=data.shortcut,
        title=data.title,
        body=data.body,
        is_active=data.is_active,
    )
    _check_edit(principal, reply)
    reply.search_text = _search_text(reply)
    session.add(reply)
    await session.flush()
    await record_audit(
        session,
        principal.actor,
        "canned_reply.create",
        "canned_reply",
        reply.id,
        after=_snapshot(reply),
        store_id=reply.store_id,
    )
    return reply


async def update_canned(
    session: AsyncSession, principal: Principal, reply_id: int, data: CannedIn
) -> CannedReply:
    """Changes the text and settings. Whether a reply is shared is fixed when it is created:
    moving an agent's personal reply into the shared set is a separate decision."""
    reply = await get_canned(session, principal, reply_id)
    _check_edit(principal, reply)
    before = _snapshot(reply)
    reply.store_id = data.store_id
    reply.category = data.category
    reply.shortcut = data.shortcut
    reply.title = data.title
    reply.body = data.body
    reply.is_active = data.is_active
    reply.search_text = _search_text(reply)
    await session.flush()
    await record_audit(
        session,
        principal.actor,
        "canned_reply.update",
        "canned_reply",
        reply.id,
        before=before,
        after=_snapshot(reply),
        store_id=reply.store_id,
    )
    return reply


async def delete_canned(session: AsyncSession, principal: Principal, reply_id: int) -> None:
    reply = await get_canned(session, principal, reply_id)
    _check_edit(principal, reply)
    before = _snapshot(reply)
    await session.delete(reply)
    await session.flush()
    await record_audit(
        session,
        principal.actor,
        "canned_reply.delete",
        "canned_reply",
        reply_id,
        before=before,
        store_id=before["store_id"],
        only_changes=False,
    )


def customer_display_name(customer: Customer | None) -> str:
    """What a reply may call the customer: the nickname, else the masked real name. Never the
    phone number, which agents without customers.reveal_pii must not see in clear."""
    if customer is None:
        return ""
    return customer.nickname or mask_name(customer.name)


async def render_context(
    session: AsyncSession, principal: Principal, conversation: Conversation | None
) -> dict[str, str]:
    context = {name: "" for name in VARIABLES}
    context["agent.name"] = principal.user.display_name
    if conversation is None or conversation.customer_id is None:
        return context
    customer = await session.get(Customer, conversation.customer_id)
    context["customer.name"] = customer_display_name(customer)
    order = await session.scalar(
        select(Order)
        .where(Order.customer_id == conversation.customer_id)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(1)
    )
    if order is None:
        return context
    context["order.no"] = order.order_no
    tracking = await session.scalar(
        select(Shipment.tracking_no)
        .where(Shipment.order_id == order.id, Shipment.is_return.is_(False))
        .order_by(Shipment.id.desc())
        .limit(1)
    )
    context["order.tracking_no"] = tracking or ""
    return context


async def load_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("找不到该会话", "Conversation not found")
    return conversation

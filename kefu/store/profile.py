"""Actions agents take on the customer 360: notes, tags and revealing masked personal data.

Every action writes an audit entry in the same transaction. A reveal is an action too: PIPL
art. 51 and DOMAIN.md §5 ask that each look at unmasked personal data is logged, with which
field, so each call here writes its own entry, even for the same field twice.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import Invalid
from kefu.store import repository
from kefu.store.models import Customer, CustomerNote, Order
from kefu.store.views import address_full, order_receiver_full

NOTE_MAX_CHARS = 2000
TAG_MAX_CHARS = 20
TAGS_MAX = 20

CustomerPiiField = Literal["name", "phone", "email", "address"]
CUSTOMER_PII_FIELDS: tuple[str, ...] = ("name", "phone", "email", "address")
PII_REVEALED = "customer.pii_revealed"


async def add_customer_note(
    session: AsyncSession, actor: Actor, customer: Customer, body: str
) -> CustomerNote:
    text = body.strip()
    if not text:
        raise Invalid("备注内容不能为空", "The note is empty")
    if len(text) > NOTE_MAX_CHARS:
        raise Invalid(
            f"备注最多 {NOTE_MAX_CHARS} 个字", f"A note has at most {NOTE_MAX_CHARS} characters"
        )
    note = CustomerNote(
        customer_id=customer.id,
        author_id=actor.id if actor.kind in ("user", "api_token") else None,
        author_name=actor.name,
        body=text,
        created_at=utcnow(),
    )
    session.add(note)
    await session.flush()
    await record_audit(
        session,
        actor,
        "customer.note_added",
        "customer",
        customer.id,
        after={"note_id": note.id, "body": text},
        store_id=customer.store_id,
    )
    return note


async def set_customer_tags(
    session: AsyncSession, actor: Actor, customer: Customer, tags: list[str]
) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not tag or tag in cleaned:
            continue
        if len(tag) > TAG_MAX_CHARS:
            raise Invalid(
                f"标签“{tag[:TAG_MAX_CHARS]}…”太长（最多 {TAG_MAX_CHARS} 个字）",
                f"Tag is too long (at most {TAG_MAX_CHARS} characters)",
            )
        cleaned.append(tag)
    if len(cleaned) > TAGS_MAX:
        raise Invalid(f"最多 {TAGS_MAX} 个标签", f"At most {TAGS_MAX} tags")
    before = list(customer.tags or [])
    if cleaned == before:
        return before
    customer.tags = cleaned
    await session.flush()
    await record_audit(
        session,
        actor,
        "customer.tags_changed",
        "customer",
        customer.id,
        before={"tags": before},
        after={"tags": cleaned},
        store_id=customer.store_id,
    )
    return cleaned


async def reveal_customer_pii(
    session: AsyncSession,
    actor: Actor,
    customer: Customer,
    field: str,
    address_id: int | None = None,
) -> str:
    """The unmasked value of one field; the caller has checked `customers.reveal_pii`."""
    detail: dict[str, object] = {"field": field}
    if field == "name":
        value = customer.name
    elif field == "phone":
        value = customer.phone or ""
    elif field == "email":
        value = customer.email or ""
    elif field == "address":
        if address_id is None:
            raise Invalid("请指定地址", "Which address?")
        address = await repository.get_address(session, customer.id, address_id)
        value = address_full(address)
        detail["address_id"] = address.id
    else:
        raise Invalid("不支持显示该字段", "This field cannot be revealed")
    await record_audit(
        session,
        actor,
        PII_REVEALED,
        "customer",
        customer.id,
        after=detail,
        store_id=customer.store_id,
        only_changes=False,
    )
    return value


async def reveal_order_receiver(session: AsyncSession, actor: Actor, order: Order) -> str:
    await record_audit(
        session,
        actor,
        PII_REVEALED,
        "order",
        order.id,
        after={"field": "receiver", "order_no": order.order_no, "customer_id": order.customer_id},
        store_id=order.store_id,
        only_changes=False,
    )
    return order_receiver_full(order)

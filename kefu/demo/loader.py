"""Loads the demo shop into an empty database: `kefu demo load` and `kefu serve --demo`.

"Empty" means no store yet. A database that already holds a store is never touched, so
both commands are safe to repeat. The schema must exist already (Alembic or `create_all`).

About 20,000 rows go in as bulk inserts in one transaction, parents first: the ids the
database hands back (RETURNING, in parameter order) are written onto the generated objects
so their children can point at them. Ids are never chosen here, so PostgreSQL sequences
stay right for everything created after the demo.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import Group, User, user_groups
from kefu.accounts.service import create_user
from kefu.core.audit import Actor, record_audit
from kefu.core.db import Database, utcnow
from kefu.demo import content as c
from kefu.demo.generator import SEED, DemoData, generate
from kefu.demo.service_history import load_service_history
from kefu.store.models import (
    Address,
    Customer,
    CustomerIdentity,
    CustomerNote,
    LogisticsEvent,
    Order,
    OrderItem,
    OrderNote,
    Product,
    Refund,
    Review,
    Shipment,
    Sku,
    Store,
)

DEMO_ACTOR = Actor.system("demo")
CHUNK = 500  # rows per INSERT; keeps PostgreSQL under its bind-parameter limit

Echo = Callable[[str], object]


@dataclass
class DemoLogin:
    username: str
    password: str | None  # None: the user existed before the demo and kept its password
    role: str
    display_name: str


@dataclass
class LoadResult:
    counts: dict[str, int]
    logins: list[DemoLogin] = field(default_factory=list)
    seconds: float = 0.0


async def database_is_empty(session: AsyncSession) -> bool:
    """No store yet: the demo may be loaded."""
    stores = await session.scalar(select(func.count()).select_from(Store))
    return not stores


async def load_demo(
    session: AsyncSession, *, now: datetime | None = None, seed: int = SEED
) -> LoadResult | None:
    """Add the demo shop in the session's transaction; None if the database has data.

    Like every service this only flushes; the caller commits.
    """
    if not await database_is_empty(session):
        return None
    started = time.perf_counter()
    data = generate(now or utcnow(), seed)
    logins, user_ids = await _users(session)
    await _stores(session, data, await _group_ids(session))
    await _catalogue(session, data)
    await _customers(session, data, user_ids)
    await _orders(session, data)
    await _reviews(session, data)
    history = await load_service_history(session, data.now, seed)
    counts = {
        "stores": len(data.stores),
        "products": len(data.products),
        "skus": len(data.skus),
        "customers": len(data.customers),
        "orders": len(data.orders),
        "shipments": sum(len(o.shipments) for o in data.orders),
        "refunds": sum(len(o.refunds) for o in data.orders),
        "reviews": len(data.reviews),
        "users": len(logins),
        **history,
    }
    for store in data.stores:
        await record_audit(
            session,
            DEMO_ACTOR,
            "demo.load",
            "store",
            store.id,
            after={"code": store.spec.code, "name": store.spec.name, **counts},
            store_id=store.id,
        )
    await session.flush()
    return LoadResult(counts, logins, time.perf_counter() - started)


async def load_demo_if_empty(database_url: str, echo: Echo = print) -> bool:
    """Load the demo shop unless the database already has a store; say what happened."""
    database = Database(database_url)
    try:
        async with database.sessionmaker() as session:
            result = await load_demo(session)
            if result is None:
                echo(
                    "数据库中已有店铺数据，未载入演示数据 / the database has data; demo not loaded"
                )
                return False
            await session.commit()
    finally:
        await database.dispose()
    for line in summary_lines(result):
        echo(line)
    return True


def summary_lines(result: LoadResult) -> list[str]:
    n = result.counts
    lines = [
        f"演示店铺已载入（{result.seconds:.1f} 秒）/ demo shop loaded: "
        f"{n['stores']} 家店铺 stores, {n['products']} 个商品 products, "
        f"{n['customers']} 位客户 customers, {n['orders']} 笔订单 orders, "
        f"{n['reviews']} 条评价 reviews",
        f"客服记录 / service history: {n['faqs']} 条 FAQ, {n['conversations']} 个会话 chats, "
        f"{n['cases']} 张售后单 after-sales cases",
        "演示账号 / demo logins:",
    ]
    for login in result.logins:
        password = login.password or "（已存在，密码未改 / existing, unchanged）"
        lines.append(f"  {login.username:<11} {password:<16} {login.role:<10} {login.display_name}")
    return lines


# --- users -----------------------------------------------------------------------------------


async def _users(session: AsyncSession) -> tuple[list[DemoLogin], dict[str, int]]:
    groups: dict[str, int] = {}
    for code, name, description in c.GROUPS:
        group = await session.scalar(select(Group).where(Group.code == code))
        if group is None:
            group = Group(code=code, name=name, description=description)
            session.add(group)
            await session.flush()
            await record_audit(
                session, DEMO_ACTOR, "group.create", "group", group.id, after={"code": code}
            )
        groups[code] = group.id

    logins: list[DemoLogin] = []
    user_ids: dict[str, int] = {}
    memberships: list[dict[str, int]] = []
    for spec in c.USERS:
        user = await session.scalar(select(User).where(User.username == spec.username))
        password: str | None = None
        if user is None:
            password = c.DEMO_PASSWORD
            user = await create_user(
                session,
                DEMO_ACTOR,
                username=spec.username,
                password=password,
                display_name=spec.display_name,
                role=spec.role,
            )
            user.max_concurrent_chats = spec.max_chats
            memberships += [{"user_id": user.id, "group_id": groups[g]} for g in spec.groups]
        user_ids[spec.username] = user.id
        logins.append(DemoLogin(spec.username, password, user.role, user.display_name))
    if memberships:
        await session.execute(insert(user_groups), memberships)
    return logins, user_ids


# --- store data ------------------------------------------------------------------------------


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


async def _insert(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Bulk insert; returns the new ids in the order of `rows`."""
    ids: list[int] = []
    for chunk in _chunks(rows):
        result = await session.execute(
            insert(model).returning(model.id, sort_by_parameter_order=True), chunk
        )
        ids += result.scalars().all()
    return ids


async def _insert_plain(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    for chunk in _chunks(rows):
        await session.execute(insert(model), chunk)


async def _group_ids(session: AsyncSession) -> dict[str, int]:
    return {g.code: g.id for g in await session.scalars(select(Group))}


def _chat_routing(groups: dict[str, int]) -> dict[str, object]:
    """The widget's entry menu: 售前 (also the default) and 售后, each to its skill group."""
    return {
        "default_group_id": groups["presales"],
        "entries": [
            {"topic": "presales", "label": "售前咨询", "group_id": groups["presales"]},
            {"topic": "aftersales", "label": "售后服务", "group_id": groups["aftersales"]},
        ],
    }


async def _stores(session: AsyncSession, data: DemoData, groups: dict[str, int]) -> None:
    rows = [
        {
            "code": s.spec.code,
            "name": s.spec.name,
            "platform": s.spec.platform,
            "timezone": "Asia/Shanghai",
            # A real secret even in the demo: webhooks signed with it are accepted.
            "webhook_secret": secrets.token_urlsafe(32),
            "return_address": s.spec.return_address,
            "service_phone": s.spec.service_phone,
            "settings": {"demo": True, "chat_routing": _chat_routing(groups)},
            "is_active": True,
        }
        for s in data.stores
    ]
    for store, new_id in zip(data.stores, await _insert(session, Store, rows), strict=True):
        store.id = new_id


async def _catalogue(session: AsyncSession, data: DemoData) -> None:
    rows = [
        {
            "store_id": p.store.id,
            "external_id": p.external_id,
            "source_updated_at": p.created_at,
            "title": p.spec.title,
            "category": p.spec.category,
            "brand": c.BRAND,
            "material": p.spec.material,
            "description": p.spec.description,
            "price": p.price,
            "image_url": "",
            "is_on_sale": True,
            "return_exclusion": p.spec.return_exclusion,
            "created_at": p.created_at,
            "updated_at": p.created_at,
        }
        for p in data.products
    ]
    for product, new_id in zip(data.products, await _insert(session, Product, rows), strict=True):
        product.id = new_id
    skus = data.skus
    rows = [
        {
            "store_id": s.product.store.id,
            "product_id": s.product.id,
            "external_id": s.external_id,
            "source_updated_at": s.product.created_at,
            "sku_code": s.sku_code,
            "color": s.color,
            "size": s.size,
            "material": s.product.spec.material if s.product.spec.is_clothing else "",
            "price": s.price,
            "stock": s.stock,
            "created_at": s.product.created_at,
            "updated_at": s.product.created_at,
        }
        for s in skus
    ]
    for sku, new_id in zip(skus, await _insert(session, Sku, rows), strict=True):
        sku.id = new_id


async def _customers(session: AsyncSession, data: DemoData, user_ids: dict[str, int]) -> None:
    rows = []
    for cu in data.customers:
        assert cu.first_seen_at is not None
        rows.append(
            {
                "store_id": cu.store.id,
                "external_id": cu.external_id,
                "source_updated_at": cu.first_seen_at,
                "name": cu.name,
                "nickname": cu.nickname,
                "phone": cu.phone,
                "phone_tail": cu.phone_tail,
                "email": cu.email,
                "gender": cu.gender,
                "city": cu.addresses[0].place.city,
                "tier": cu.tier,
                "tags": cu.tags,
                "note": cu.note,
                "marketing_opt_in": cu.marketing_opt_in,
                "first_seen_at": cu.first_seen_at,
                "created_at": cu.first_seen_at,
                "updated_at": cu.first_seen_at,
            }
        )
    for cu, new_id in zip(data.customers, await _insert(session, Customer, rows), strict=True):
        cu.id = new_id

    identities = [
        {
            "store_id": cu.store.id,
            "customer_id": cu.id,
            "channel": channel,
            "external_user_id": external,
            "display": display,
        }
        for cu in data.customers
        for channel, external, display in cu.identities
    ]
    await _insert_plain(session, CustomerIdentity, identities)
    addresses = [
        {
            "customer_id": cu.id,
            "receiver_name": a.receiver_name,
            "phone": a.phone,
            "province": a.place.province,
            "city": a.place.city,
            "district": a.district,
            "detail": a.detail,
            "postal_code": a.postal_code,
            "is_default": a.is_default,
        }
        for cu in data.customers
        for a in cu.addresses
    ]
    await _insert_plain(session, Address, addresses)
    display = {u.username: u.display_name for u in c.USERS}
    notes = [
        {
            "customer_id": n.customer.id,
            "author_id": user_ids.get(n.author_username),
            "author_name": display[n.author_username],
            "body": n.body,
            "created_at": n.created_at,
        }
        for n in data.customer_notes
    ]
    await _insert_plain(session, CustomerNote, notes)


async def _orders(session: AsyncSession, data: DemoData) -> None:
    rows = []
    for o in data.orders:
        a = o.address
        rows.append(
            {
                "store_id": o.store.id,
                "customer_id": o.customer.id,
                "external_id": o.order_no,
                "source_updated_at": o.updated_at,
                "order_no": o.order_no,
                "status": o.status.value,
                "currency": "CNY",
                "total_amount": o.total_amount,
                "shipping_fee": o.shipping_fee,
                "discount_amount": o.discount_amount,
                "paid_amount": o.paid_amount,
                "refunded_amount": o.refunded_amount,
                "receiver_name": a.receiver_name,
                "receiver_phone": a.phone,
                "province": a.place.province,
                "city": a.place.city,
                "district": a.district,
                "address_detail": a.detail,
                "buyer_message": o.buyer_message,
                "seller_memo": o.seller_memo,
                "placed_at": o.placed_at,
                "paid_at": o.paid_at,
                "shipped_at": o.shipped_at,
                "signed_at": o.signed_at,
                "finished_at": o.finished_at,
                "closed_at": o.closed_at,
                "created_at": o.placed_at,
                "updated_at": o.updated_at,
            }
        )
    for order, new_id in zip(data.orders, await _insert(session, Order, rows), strict=True):
        order.id = new_id

    items = [(o, i) for o in data.orders for i in o.items]
    rows = [
        {
            "order_id": o.id,
            "external_id": i.external_id,
            "product_id": i.sku.product.id,
            "sku_id": i.sku.id,
            "title": i.sku.product.spec.title,
            "sku_desc": i.sku.desc,
            "quantity": i.quantity,
            "unit_price": i.unit_price,
            "paid_amount": i.paid_amount,
            "refund_status": i.refund_status,
            "return_exclusion_confirmed": i.return_exclusion_confirmed,
        }
        for o, i in items
    ]
    for (_, item), new_id in zip(items, await _insert(session, OrderItem, rows), strict=True):
        item.id = new_id

    shipments = [(o, s) for o in data.orders for s in o.shipments]
    rows = [
        {
            "order_id": o.id,
            "carrier": s.carrier,
            "tracking_no": s.tracking_no,
            "status": s.status,
            "shipped_at": s.shipped_at,
            "delivered_at": s.delivered_at,
            "is_return": s.is_return,
            "created_at": s.shipped_at,
            "updated_at": s.events[-1].at if s.events else s.shipped_at,
        }
        for o, s in shipments
    ]
    ids = await _insert(session, Shipment, rows)
    for (_, shipment), new_id in zip(shipments, ids, strict=True):
        shipment.id = new_id
    events = [
        {
            "shipment_id": s.id,
            "occurred_at": e.at,
            "location": e.location,
            "description": e.description,
            "status": e.status,
        }
        for _, s in shipments
        for e in s.events
    ]
    await _insert_plain(session, LogisticsEvent, events)

    refunds = [
        {
            "order_id": o.id,
            "order_item_id": r.item.id if r.item else None,
            "amount": r.amount,
            "reason": r.reason,
            "idempotency_key": r.key,
            "status": "SUCCESS",
            "created_at": r.created_at,
        }
        for o in data.orders
        for r in o.refunds
    ]
    await _insert_plain(session, Refund, refunds)
    notes = [
        {"order_id": o.id, "author": author, "body": body, "created_at": at}
        for o in data.orders
        for author, body, at in o.notes
    ]
    await _insert_plain(session, OrderNote, notes)


async def _reviews(session: AsyncSession, data: DemoData) -> None:
    rows = [
        {
            "store_id": r.store.id,
            "external_id": r.external_id,
            "source_updated_at": r.reviewed_at,
            "order_id": r.order.id,
            "product_id": r.item.sku.product.id,
            "customer_id": r.order.customer.id,
            "rating": r.rating,
            "content": r.content,
            "reviewed_at": r.reviewed_at,
            "reply": r.reply,
            "sentiment_negative": None,
            "created_at": r.reviewed_at,
            "updated_at": r.reviewed_at,
        }
        for r in data.reviews
    ]
    await _insert_plain(session, Review, rows)

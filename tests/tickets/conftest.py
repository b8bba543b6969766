"""Ticket fixtures: a shop with a customer and orders, actors, and a captured-events helper."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import User
from kefu.core.audit import Actor
from kefu.core.db import Database, utcnow
from kefu.store.models import Customer, Order, Store
from kefu.tickets import service
from kefu.tickets.models import Ticket
from kefu.tickets.schemas import TicketCreate

_seq = itertools.count(1)


@dataclass
class Shop:
    store: Store
    customer: Customer
    other_customer: Customer
    order: Order


@pytest.fixture
async def shop(db: Database) -> Shop:
    n = next(_seq)
    async with db.sessionmaker() as s:
        store = Store(
            code=f"tk{n}", name="旗舰店", timezone="Asia/Shanghai", webhook_secret="x" * 32
        )
        s.add(store)
        await s.flush()
        customer = Customer(
            store_id=store.id, external_id=f"C{n}a", name="张小花", phone="13812345678",
            phone_tail="5678", tier="normal", tags=[],
        )  # fmt: skip
        other = Customer(
            store_id=store.id, external_id=f"C{n}b", name="李大壮", phone="13900001111",
            phone_tail="1111", tier="vip", tags=[],
        )  # fmt: skip
        s.add_all([customer, other])
        await s.flush()
        order = Order(
            store_id=store.id, customer_id=customer.id, external_id=f"O{n}",
            order_no=f"2026112300{n:04d}", status="WAIT_BUYER_CONFIRM_GOODS",
            total_amount=Decimal("199.00"), paid_amount=Decimal("199.00"),
            placed_at=utcnow() - timedelta(days=3),
        )  # fmt: skip
        s.add(order)
        await s.commit()
        return Shop(store, customer, other, order)


@pytest.fixture
async def tsession(db: Database) -> AsyncIterator[AsyncSession]:
    async with db.sessionmaker() as s:
        yield s


def actor_of(user: User) -> Actor:
    return Actor("user", user.id, user.display_name)


async def new_ticket(session: AsyncSession, actor: Actor, **fields: Any) -> Ticket:
    data: dict[str, Any] = {"subject": "快递一直不动", "description": "物流三天没有更新"}
    data.update(fields)
    now = data.pop("now", None)
    ticket = await service.create_ticket(session, actor, TicketCreate(**data), now=now)
    await session.commit()
    return ticket

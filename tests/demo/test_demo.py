"""The demo shop: `kefu demo load` fills an empty database with a consistent Chinese shop."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
import time_machine
from sqlalchemy import create_engine, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from kefu.accounts.models import Group, User, user_groups
from kefu.accounts.permissions import Role
from kefu.accounts.service import authenticate
from kefu.aftersales.enums import CaseStatus
from kefu.aftersales.models import AftersalesCase
from kefu.bot.models import BotTurn
from kefu.cli import app
from kefu.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationMention,
    ConversationRating,
    Message,
)
from kefu.conversations.routing_settings import public_entries
from kefu.core.config import get_settings
from kefu.core.db import Base, Database, sqlite_pragmas_for_sync
from kefu.demo.chat_content import CASES, CHATS, FAQS
from kefu.demo.content import DEMO_PASSWORD
from kefu.demo.generator import SHANGHAI, generate
from kefu.demo.loader import load_demo, load_demo_if_empty
from kefu.demo.service_history import expected_statuses
from kefu.knowledge.models import Faq
from kefu.store.enums import OrderStatus, RefundStatus, ReturnExclusion
from kefu.store.models import (
    Address,
    Customer,
    CustomerIdentity,
    LogisticsEvent,
    Order,
    OrderItem,
    Product,
    Refund,
    Review,
    Shipment,
    Sku,
    Store,
)
from tests.fixtures.factories import sign_in

MOBILE = re.compile(r"^1(3\d|5[0-35-9]|8\d|9[135-9])\d{8}$")
TRACKING = {
    "顺丰速运": re.compile(r"^SF\d{13}$"),
    "中通快递": re.compile(r"^7[358]\d{12}$"),
    "圆通速递": re.compile(r"^YT\d{13}$"),
    "韵达快递": re.compile(r"^4[36]\d{13}$"),
    "京东物流": re.compile(r"^JDV[A-Z]\d{11}$"),
    "EMS": re.compile(r"^98\d{11}$"),
}
COUNTED: tuple[type[Base], ...] = (
    Store,
    Product,
    Sku,
    Customer,
    CustomerIdentity,
    Address,
    Order,
    OrderItem,
    Shipment,
    LogisticsEvent,
    Refund,
    Review,
    User,
    Group,
    Faq,
    Conversation,
    Message,
    ConversationEvent,
    ConversationRating,
    ConversationMention,
    BotTurn,
    AftersalesCase,
)


async def _counts(session: AsyncSession) -> dict[str, int]:
    return {
        str(m.__tablename__): await session.scalar(select(func.count()).select_from(m)) or 0
        for m in COUNTED
    }


async def test_demo_shop_is_complete_and_consistent(db: Database) -> None:
    before = datetime.now(UTC)
    assert await load_demo_if_empty(db.url, echo=lambda _: None)
    after = datetime.now(UTC)

    async with db.sessionmaker() as s:
        stores = {st.id: st for st in await s.scalars(select(Store))}
        assert {st.code for st in stores.values()} == {"tmall-flagship", "jd-store"}
        for store in stores.values():
            assert store.timezone == "Asia/Shanghai"
            assert store.return_address and store.service_phone
            assert len(store.webhook_secret) >= 32

        products = list(await s.scalars(select(Product)))
        skus = list(await s.scalars(select(Sku)))
        tmall = next(st.id for st in stores.values() if st.code == "tmall-flagship")
        assert sum(1 for p in products if p.store_id == tmall) >= 60
        assert any(sku.stock == 0 for sku in skus)
        assert all(Decimal("29") <= p.price <= Decimal("1299") for p in products)
        exclusions = {p.return_exclusion for p in products}
        assert {ReturnExclusion.custom_made, ReturnExclusion.hygiene_unsealed} <= exclusions

        customers = list(await s.scalars(select(Customer)))
        assert len(customers) == 300
        for cu in customers:
            assert cu.phone and MOBILE.match(cu.phone), cu.phone
            assert cu.phone_tail == cu.phone[-4:]
            assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", cu.name), cu.name
        tiers = Counter(cu.tier for cu in customers)
        assert 3 <= tiers["svip"] <= 9 and 20 <= tiers["vip"] <= 40
        assert any("回头客" in cu.tags for cu in customers)
        identities = list(await s.scalars(select(CustomerIdentity)))
        assert {"taobao", "jd", "web", "email"} <= {i.channel for i in identities}

        orders = list(await s.scalars(select(Order)))
        items_of: dict[int, list[OrderItem]] = defaultdict(list)
        for item in await s.scalars(select(OrderItem)):
            items_of[item.order_id].append(item)
        refunds_of: dict[int, list[Refund]] = defaultdict(list)
        for refund in await s.scalars(select(Refund)):
            refunds_of[refund.order_id].append(refund)
        shipments_of: dict[int, list[Shipment]] = defaultdict(list)
        for shipment in await s.scalars(select(Shipment)):
            shipments_of[shipment.order_id].append(shipment)
        events_of: dict[int, list[LogisticsEvent]] = defaultdict(list)
        for event in await s.scalars(select(LogisticsEvent).order_by(LogisticsEvent.occurred_at)):
            events_of[event.shipment_id].append(event)

        # A demo after-sales case sent a missing item: the order has a second parcel.
        reships = Counter(
            (
                await s.scalars(
                    select(AftersalesCase.order_id).where(AftersalesCase.reship_shipment_id > 0)
                )
            ).all()
        )
        assert len(orders) == 2000
        statuses = Counter(o.status for o in orders)
        assert set(statuses) == set(OrderStatus)
        assert statuses[OrderStatus.TRADE_FINISHED] > len(orders) / 3
        assert len({(o.store_id, o.order_no) for o in orders}) == len(orders)
        for o in orders:
            _check_order(o, stores[o.store_id].platform, items_of[o.id], refunds_of[o.id], before)
            _check_shipments(o, shipments_of[o.id], events_of, after, reships[o.id])
        assert all(t <= after for o in orders for t in _times(o))
        refund_states = {i.refund_status for items in items_of.values() for i in items}
        assert {RefundStatus.SUCCESS, RefundStatus.WAIT_SELLER_AGREE} <= refund_states
        partial = [
            o for o in orders if o.status != OrderStatus.TRADE_CLOSED and o.refunded_amount > 0
        ]
        assert partial, "some orders have a partial refund"
        shipment_states = {sh.status for group in shipments_of.values() for sh in group}
        assert {"in_transit", "delivered", "exception"} <= shipment_states
        _check_duplicate_purchases(orders, items_of)

        reviews = list(await s.scalars(select(Review)))
        assert len(reviews) == 500
        ratings = Counter(r.rating for r in reviews)
        assert ratings[4] + ratings[5] == 350
        assert ratings[3] == 75
        assert ratings[1] + ratings[2] == 75
        assert len({r.content for r in reviews}) >= 450, "reviews are varied"
        by_id = {o.id: o for o in orders}
        for r in reviews:
            assert r.order_id is not None
            order = by_id[r.order_id]
            assert order.status == OrderStatus.TRADE_FINISHED
            assert order.finished_at is not None and order.finished_at <= r.reviewed_at <= after
            assert r.customer_id == order.customer_id


def _times(o: Order) -> list[datetime]:
    times = [o.placed_at, o.paid_at, o.shipped_at, o.signed_at, o.finished_at, o.closed_at]
    return [t for t in times if t is not None]


def _check_order(
    o: Order, platform: str, items: list[OrderItem], refunds: list[Refund], before: datetime
) -> None:
    pattern = r"\d{18,19}" if platform == "tmall" else r"\d{12}"
    assert re.fullmatch(pattern, o.order_no), o.order_no
    assert o.placed_at >= before - timedelta(days=60, minutes=5)
    # Timestamps follow the order's life and only those its status implies are set.
    if o.paid_at:
        assert o.paid_at >= o.placed_at
    if o.shipped_at:
        assert o.paid_at and o.shipped_at >= o.paid_at
    if o.signed_at:
        assert o.shipped_at and o.signed_at >= o.shipped_at
    if o.finished_at:
        assert o.signed_at and o.finished_at >= o.signed_at
    if o.closed_at:
        assert o.closed_at >= (o.paid_at or o.placed_at)
    status = OrderStatus(o.status)
    unpaid = (OrderStatus.WAIT_BUYER_PAY, OrderStatus.TRADE_CLOSED_BY_TAOBAO)
    assert (o.paid_at is None) == (status in unpaid)
    if status == OrderStatus.WAIT_BUYER_PAY:
        assert o.closed_at is None
    if status == OrderStatus.WAIT_SELLER_SEND_GOODS:
        assert o.shipped_at is None
    if status in (OrderStatus.SELLER_CONSIGNED_PART, OrderStatus.WAIT_BUYER_CONFIRM_GOODS):
        assert o.shipped_at and not o.finished_at and not o.closed_at
    if status == OrderStatus.TRADE_BUYER_SIGNED:
        assert o.signed_at and not o.finished_at
    if status == OrderStatus.TRADE_FINISHED:
        assert o.finished_at and not o.closed_at
    if status in (OrderStatus.TRADE_CLOSED, OrderStatus.TRADE_CLOSED_BY_TAOBAO):
        assert o.closed_at and not o.finished_at

    # Money adds up: lines, discount, shipping, payment and refunds.
    assert 1 <= len(items) <= 3
    if status == OrderStatus.SELLER_CONSIGNED_PART:
        assert len(items) >= 2
    lines = sum((i.unit_price * i.quantity for i in items), Decimal("0"))
    assert o.total_amount == lines + o.shipping_fee
    assert sum((i.paid_amount for i in items), Decimal("0")) == lines - o.discount_amount
    assert all(i.paid_amount > 0 for i in items)
    expected_paid = o.total_amount - o.discount_amount if o.paid_at else Decimal("0")
    assert o.paid_amount == expected_paid
    assert o.refunded_amount == sum((r.amount for r in refunds), Decimal("0"))
    assert o.refunded_amount <= o.paid_amount
    if status == OrderStatus.TRADE_CLOSED:
        assert o.refunded_amount == o.paid_amount > 0
        assert all(i.refund_status == RefundStatus.SUCCESS for i in items)
    for item in items:
        assert re.fullmatch(r"颜色:[^;]+;[^:]+:.+", item.sku_desc), item.sku_desc


def _check_shipments(
    o: Order,
    shipments: list[Shipment],
    events_of: dict[int, list[LogisticsEvent]],
    after: datetime,
    reships: int,
) -> None:
    if o.shipped_at is None:
        assert not shipments
        return
    outbound = [sh for sh in shipments if not sh.is_return]
    assert len(outbound) == 1 + reships, o.order_no
    for sh in shipments:
        assert TRACKING[sh.carrier].match(sh.tracking_no), (sh.carrier, sh.tracking_no)
        if sh in outbound[1:]:
            continue  # the replacement parcel was only just handed to the carrier
        events = events_of[sh.id]
        assert events, f"shipment of {o.order_no} has logistics events"
        assert sh.shipped_at is not None
        assert all(sh.shipped_at <= e.occurred_at <= after for e in events)
        assert sh.status == events[-1].status or sh.status == "returned"
        if sh.status == "delivered":
            assert sh.delivered_at == events[-1].occurred_at
            assert "签收" in events[-1].description
    first = outbound[0]
    assert "揽收" in events_of[first.id][0].description
    if o.signed_at is not None:
        assert first.delivered_at == o.signed_at


def _check_duplicate_purchases(orders: list[Order], items_of: dict[int, list[OrderItem]]) -> None:
    """Some buyers bought the same SKU twice within three days (duplicate-purchase checks)."""
    seen: dict[tuple[int | None, int | None], list[datetime]] = defaultdict(list)
    for o in orders:
        if o.paid_at is None:
            continue
        for item in items_of[o.id]:
            seen[(o.customer_id, item.sku_id)].append(o.placed_at)
    close = 0
    for times in seen.values():
        times.sort()
        close += any(b - a <= timedelta(days=3) for a, b in pairwise(times))
    assert close >= 10


async def test_demo_users_sign_in_and_second_load_changes_nothing(db: Database) -> None:
    async with db.sessionmaker() as s:
        result = await load_demo(s)
        assert result is not None
        await s.commit()
    logins = {login.username: login for login in result.logins}
    assert {login.role for login in result.logins} == {r.value for r in Role}

    async with db.sessionmaker() as s:
        counts = await _counts(s)
        groups = {g.code: g for g in await s.scalars(select(Group))}
        assert set(groups) == {"presales", "aftersales", "vip", "complaints"}
        assert groups["complaints"].name == "投诉专家组"
        members = Counter(row.group_id for row in (await s.execute(select(user_groups))).all())
        assert all(members[g.id] >= 1 for g in groups.values())
        for username in logins:
            user = await authenticate(s, username, DEMO_PASSWORD)
            assert user.role == logins[username].role
        await s.rollback()

    assert not await load_demo_if_empty(db.url, echo=lambda _: None)
    async with db.sessionmaker() as s:
        assert await load_demo(s) is None
        assert await _counts(s) == counts


def test_generator_is_deterministic() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    first, second = generate(now), generate(now)
    assert [o.order_no for o in first.orders] == [o.order_no for o in second.orders]
    assert [r.content for r in first.reviews] == [r.content for r in second.reviews]
    assert [cu.phone for cu in first.customers] == [cu.phone for cu in second.customers]


def test_cli_demo_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "demo.db"
    engine = create_engine(f"sqlite:///{path}")
    sqlite_pragmas_for_sync(engine)
    Base.metadata.create_all(engine)
    engine.dispose()
    monkeypatch.setenv("KEFU_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["demo", "load", "--no-migrate"])
        assert result.exit_code == 0, result.output
        assert "2000" in result.output
        assert "supervisor" in result.output and DEMO_PASSWORD in result.output
        again = runner.invoke(app, ["demo", "load", "--no-migrate"])
        assert again.exit_code == 0, again.output
        assert "未载入" in again.output
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("local_time", ["03:10", "12:00", "23:55"])
def test_generated_shop_is_consistent_at_any_time_of_day(local_time: str) -> None:
    hour, minute = map(int, local_time.split(":"))
    now = datetime(2026, 3, 1, hour, minute, tzinfo=SHANGHAI)
    data = generate(now)
    assert len(data.orders) == 2000
    assert {o.status for o in data.orders} == set(OrderStatus)
    for o in data.orders:
        times = [o.placed_at, o.paid_at, o.shipped_at, o.signed_at, o.finished_at]
        present = [t for t in times if t is not None]
        assert present == sorted(present) and present[-1] <= now
        assert o.closed_at is None or o.placed_at <= o.closed_at <= now
        for sh in o.shipments:
            moments = [e.at for e in sh.events]
            assert moments and moments == sorted(moments) and moments[-1] <= now


@pytest.mark.parametrize(
    "moment",
    [
        "2026-11-23T22:55",  # late evening: once left no order inside a 7-day window
        "2027-01-01T00:30",  # a holiday, just after midnight, a new year
        "2026-10-01T10:00",  # National Day
    ],
)
async def test_make_run_loads_the_whole_demo_at_any_hour(db: Database, moment: str) -> None:
    """`make run` must work whenever someone tries Kefu: the services check the real clock
    (7-day windows, business hours), so the demo is loaded with the clock moved there."""
    when = datetime.fromisoformat(moment).replace(tzinfo=SHANGHAI)
    with time_machine.travel(when, tick=True):
        assert await load_demo_if_empty(db.url, echo=lambda _: None)
    async with db.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(AftersalesCase)) == len(CASES)
        assert await s.scalar(select(func.count()).select_from(Conversation)) == len(CHATS)


# --- the service history: chats, bot turns, after-sales cases ---------------------------------


async def test_demo_has_a_consistent_service_history(db: Database) -> None:
    before = datetime.now(UTC)
    assert await load_demo_if_empty(db.url, echo=lambda _: None)
    after = datetime.now(UTC)

    async with db.sessionmaker() as s:
        stores = {st.id: st.code for st in await s.scalars(select(Store))}
        users = {u.id: u.username for u in await s.scalars(select(User))}
        chats = list(await s.scalars(select(Conversation).order_by(Conversation.id)))
        assert len(chats) == len(CHATS)
        assert Counter(c.status for c in chats) == expected_statuses()
        assert set(stores.values()) == {stores[c.store_id] for c in chats}
        # Chats people took are in the 售前 group (the stores' default entry), so the
        # workspace's group views have something to show; the widget offers 售前 / 售后.
        presales = await s.scalar(select(Group.id).where(Group.code == "presales"))
        assert any(c.group_id == presales for c in chats)
        for store in await s.scalars(select(Store)):
            assert [e["topic"] for e in public_entries(store)] == ["presales", "aftersales"]
        open_chats = [c for c in chats if c.status == "open"]
        waiting = [c for c in open_chats if c.assignee_id is None and c.waiting_since]
        assert len(waiting) >= 4, "customers the bot handed over wait for a person"
        assert {"xiaomei", "ajie"} <= {users[c.assignee_id] for c in open_chats if c.assignee_id}
        vip = await s.scalar(
            select(func.count())
            .select_from(Conversation)
            .join(Customer, Customer.id == Conversation.customer_id)
            .where(Customer.tier.in_(["vip", "svip"]), Conversation.status == "open")
        )
        assert vip, "a VIP customer is waiting"

        events = list(await s.scalars(select(ConversationEvent).order_by(ConversationEvent.id)))
        messages = list(await s.scalars(select(Message).order_by(Message.id)))
        # Backdated, the history still reads forward: ids grow with time, all in the last week.
        assert all(a.created_at <= b.created_at for a, b in pairwise(events))
        assert all(a.created_at <= b.created_at for a, b in pairwise(messages))
        assert all(before - timedelta(days=7) <= e.created_at <= after for e in events)
        events_of: dict[int, list[ConversationEvent]] = defaultdict(list)
        for event in events:
            events_of[event.conversation_id].append(event)
        messages_of: dict[int, list[Message]] = defaultdict(list)
        for message in messages:
            messages_of[message.conversation_id].append(message)
        for chat in chats:
            log = events_of[chat.id]
            assert chat.last_event_id == log[-1].id
            assert log[0].kind == "opened"
            assert abs(chat.created_at - log[0].created_at) < timedelta(seconds=1)
            public = [m for m in messages_of[chat.id] if m.audience == "public"]
            assert chat.last_message_at == public[-1].created_at
            if chat.waiting_since is not None:
                # Waiting since the first customer message after the last human answer.
                answers = [m.id for m in public if m.sender_kind == "agent"]
                unanswered = [
                    m
                    for m in public
                    if m.sender_kind == "customer" and m.id > max(answers, default=0)
                ]
                assert unanswered and chat.waiting_since >= unanswered[0].created_at
                assert chat.waiting_since - unanswered[0].created_at < timedelta(minutes=10)
            if chat.status == "resolved":
                assert chat.resolved_at is not None and chat.resolved_at <= after

        # Buyers ask about their own orders.
        orders = {o.order_no: o for o in await s.scalars(select(Order))}
        about_orders = 0
        for chat in chats:
            for m in messages_of[chat.id]:
                for number in re.findall(r"\d{12,19}", m.body):
                    if number in orders and m.sender_kind == "customer":
                        assert orders[number].customer_id == chat.customer_id
                        about_orders += 1
        assert about_orders >= 2

        ratings = {r.conversation_id: r for r in await s.scalars(select(ConversationRating))}
        rated = [c for c in chats if c.id in ratings]
        assert len(rated) >= 6 and {ratings[c.id].score for c in rated} >= {2, 3, 4, 5}
        for chat in rated:
            assert chat.status == "resolved" and ratings[chat.id].agent_id == chat.assignee_id
            assert any(m.kind == "csat" for m in messages_of[chat.id])

        notes = [m for m in messages if m.audience == "internal" and m.sender_kind == "agent"]
        assert any("@" in m.body for m in notes)
        mentions = list(await s.scalars(select(ConversationMention)))
        assert {users[m.user_id] for m in mentions} >= {"ajie"}

        turns = list(await s.scalars(select(BotTurn)))
        assert {"answered", "suggested", "none", "handoff"} <= {t.outcome for t in turns}
        keys = {f.external_id for f in await s.scalars(select(Faq))}
        assert keys == {f.key for f in FAQS}
        answered = [t for t in turns if t.outcome == "answered" and t.faq_key]
        assert len({t.faq_key for t in answered}) >= 8 and {t.faq_key for t in answered} <= keys
        assert {t.rating for t in turns} >= {1, -1}
        assert all(t.reply_message_id for t in turns if t.outcome == "answered")
        by_message = {m.id: m for m in messages}
        for turn in turns:
            assert by_message[turn.message_id].sender_kind == "customer"
            assert turn.created_at - by_message[turn.message_id].created_at < timedelta(seconds=5)

        cases = list(await s.scalars(select(AftersalesCase)))
        assert len(cases) >= 10
        assert {
            CaseStatus.requested,
            CaseStatus.awaiting_return,
            CaseStatus.received,
            CaseStatus.refunded,
            CaseStatus.rejected,
        } <= {CaseStatus(c.status) for c in cases}
        by_id = {o.id: o for o in orders.values()}
        for case in cases:
            order = by_id[case.order_id]
            assert case.customer_id == order.customer_id and case.store_id == order.store_id
            assert before - timedelta(days=7) <= case.created_at <= after
            if case.status == CaseStatus.awaiting_return:
                assert case.return_due_at and case.return_due_at > case.created_at
            if case.status == CaseStatus.refunded:
                assert order.refunded_amount * 100 >= case.refunded_cents > 0
        linked = [c for c in cases if c.conversation_id is not None]
        assert linked, "an agent opened a case from a chat"


async def test_demo_inbox_and_aftersales_pages_show_the_history(
    db: Database, client: httpx.AsyncClient
) -> None:
    assert await load_demo_if_empty(db.url, echo=lambda _: None)
    await sign_in(client, "xiaomei", DEMO_PASSWORD)

    inbox = await client.get("/inbox")
    assert inbox.status_code == 200
    async with db.sessionmaker() as s:
        waiting = await s.scalar(
            select(Conversation)
            .where(Conversation.status == "open", Conversation.waiting_since.is_not(None))
            .order_by(Conversation.waiting_since)
            .limit(1)
        )
        assert waiting is not None
        resolved = await s.scalar(
            select(Conversation)
            .join(ConversationRating, ConversationRating.conversation_id == Conversation.id)
            .limit(1)
        )
        assert resolved is not None
        rating = await s.scalar(
            select(ConversationRating.score).where(
                ConversationRating.conversation_id == resolved.id
            )
        )
        case_numbers = list(await s.scalars(select(AftersalesCase.number)))
    assert f'data-id="{waiting.id}"' in inbox.text or f"c={waiting.id}" in inbox.text
    done = await client.get("/inbox", params={"status": "resolved", "c": resolved.id})
    assert done.status_code == 200
    assert "本次服务已结束" in done.text, "the CSAT survey is in the transcript"
    assert 'data-testid="chat-rating"' in done.text and f'aria-label="{rating}/5"' in done.text

    cases = await client.get("/aftersales")
    assert cases.status_code == 200
    assert sum(number in cases.text for number in case_numbers) >= 10

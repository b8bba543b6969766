"""The demo shop's recent customer service: FAQ, chats, bot turns and after-sales cases.

Everything goes through the services a live shop uses — the knowledge base, the conversation
service (customer messages, replies, notes with @mentions, assignment, snooze, resolve, CSAT),
the live bot (`kefu.bot.service.handle_message`, the same function the `bot.reply` job runs,
so the bot's answers and its `bot_turns` are what the real pipeline says) and the after-sales
service with its policy engine and the store connector — so the event log, the cached columns
and the audit trail agree with each other. `DemoClock` then moves each step's writes to its
demo time (see `backdate.py`).

Buyers and orders are picked with a seeded random generator from what `loader.py` inserted,
so the same seed and the same day give the same history.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import User
from kefu.aftersales import service as aftersales
from kefu.aftersales.enums import CaseSource, RequestKind
from kefu.aftersales.models import AftersalesCase
from kefu.aftersales.schemas import CaseCreate, CaseLineIn
from kefu.bot import rating as bot_rating
from kefu.bot import service as bot
from kefu.bot.models import BotTurn
from kefu.conversations import csat, workspace
from kefu.conversations import service as conversations
from kefu.conversations.service import Contact
from kefu.core.audit import Actor
from kefu.demo import chat_content as cc
from kefu.demo.backdate import DemoClock, forget_side_effects
from kefu.knowledge import service as knowledge
from kefu.knowledge.schemas import FaqIn
from kefu.store.enums import CustomerTier, OrderStatus, ReturnExclusion
from kefu.store.models import Customer, Order, OrderItem, Product, Shipment, Store

FAQ_AGE = timedelta(days=21)  # the knowledge base was written before any of the chats
SNOOZE_UNTIL = 9  # o'clock the next morning, shop time

Step = Callable[[], Awaitable[object]]


@dataclass
class _Order:
    """A buyer's order as the chat text refers to it."""

    order: Order
    customer: Customer
    items: list[OrderItem]
    carrier: str = ""
    tracking: str = ""

    def fill(self, text: str) -> str:
        first = self.items[0]
        return text.format(
            order_no=self.order.order_no,
            title=first.title,
            sku=first.sku_desc,
            carrier=self.carrier,
            tracking=self.tracking,
            city=self.order.city,
        )


@dataclass
class _Chat:
    spec: cc.ChatSpec
    number: int
    contact: Contact
    about: _Order | None
    conversation_id: int = 0


@dataclass
class _History:
    session: AsyncSession
    now: datetime
    rng: random.Random
    clock: DemoClock
    stores: dict[str, Store]
    users: dict[str, User]
    used_orders: set[int] = field(default_factory=set)
    used_customers: set[int] = field(default_factory=set)
    cases: dict[str, int] = field(default_factory=dict)  # spec key → case id
    plan: list[tuple[datetime, int, Step]] = field(default_factory=list)

    def at(self, when: datetime, step: Step) -> None:
        self.plan.append((min(when, self.now), len(self.plan), step))

    def actor(self, username: str) -> Actor:
        user = self.users[username]
        return Actor("user", user.id, user.display_name)


async def load_service_history(session: AsyncSession, now: datetime, seed: int) -> dict[str, int]:
    """Add the FAQ, chats and after-sales cases; returns what was added. Only flushes."""
    from kefu.worker import load_task_modules

    load_task_modules()  # the services queue jobs by name (`kefu demo load` runs without the app)
    users = {u.username: u for u in await session.scalars(select(User))}
    stores = {s.code: s for s in await session.scalars(select(Store))}
    h = _History(session, now, random.Random(seed), DemoClock(session), stores, users)
    await h.clock.run(now - FAQ_AGE, lambda: _faqs(h))
    for number, spec in enumerate(cc.CHATS):
        await _plan_chat(h, number, spec)
    from_chats = {s.key for c in cc.CHATS for s in c.steps if isinstance(s, cc.OpenCase)}
    for case_spec in cc.CASES:
        if case_spec.key not in from_chats:
            await _plan_case(h, case_spec)
    for when, _, step in sorted(h.plan, key=lambda p: (p[0], p[1])):
        await h.clock.run(when, step)
    await h.clock.backdate()
    session.expire_all()  # the services' objects still hold the real times
    return {"faqs": len(cc.FAQS), "conversations": len(cc.CHATS), "cases": len(h.cases)}


async def _faqs(h: _History) -> None:
    for spec in cc.FAQS:
        await knowledge.create_faq(
            h.session,
            h.actor("supervisor"),
            FaqIn(
                external_id=spec.key,
                question=spec.question,
                similar=list(spec.similar),
                answer=spec.answer,
                category=spec.category,
            ),
        )


# --- picking buyers and orders --------------------------------------------------------------


async def _pick_order(
    h: _History,
    store: Store,
    statuses: tuple[OrderStatus, ...],
    before: datetime,
    *,
    vip: bool = False,
    custom_made: bool = False,
    without_email: bool = False,
    accept: Callable[[Order], Awaitable[bool]] | None = None,
) -> _Order:
    """A random order of a buyer not used yet, in one of `statuses`, that had already reached
    that status at demo time `before` (a chat cannot ask about a parcel not yet sent)."""
    stmt = (
        select(Order, Customer)
        .join(Customer, Customer.id == Order.customer_id)
        .where(Order.store_id == store.id, Order.status.in_([s.value for s in statuses]))
        .order_by(Order.id)
    )
    if vip:
        stmt = stmt.where(Customer.tier.in_([CustomerTier.vip.value, CustomerTier.svip.value]))
    if without_email:
        stmt = stmt.where(Customer.email.is_(None))
    if custom_made:
        stmt = stmt.where(
            Order.id.in_(
                select(OrderItem.order_id)
                .join(Product, Product.id == OrderItem.product_id)
                .where(Product.return_exclusion == ReturnExclusion.custom_made.value)
            )
        )
    candidates = [
        (order, customer)
        for order, customer in (await h.session.execute(stmt)).all()
        if order.id not in h.used_orders
        and customer.id not in h.used_customers
        and _reached(order, before - timedelta(hours=1))
    ]
    h.rng.shuffle(candidates)
    for order, customer in candidates:
        if accept is not None and not await accept(order):
            continue
        h.used_orders.add(order.id)
        h.used_customers.add(customer.id)
        items = list(
            await h.session.scalars(
                select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)
            )
        )
        found = _Order(order, customer, items)
        shipment = await h.session.scalar(
            select(Shipment).where(Shipment.order_id == order.id, Shipment.is_return.is_(False))
        )
        if shipment is not None:
            found.carrier, found.tracking = shipment.carrier, shipment.tracking_no
        return found
    raise LookupError(f"no demo order in {statuses} for {store.code}")


def _reached(order: Order, moment: datetime) -> bool:
    """Whether the order was already in its present status at `moment`."""
    since = {
        OrderStatus.WAIT_SELLER_SEND_GOODS: order.paid_at,
        OrderStatus.WAIT_BUYER_CONFIRM_GOODS: order.shipped_at,
        OrderStatus.TRADE_BUYER_SIGNED: order.signed_at,
        OrderStatus.TRADE_FINISHED: order.signed_at,
    }.get(OrderStatus(order.status))
    return since is not None and since <= moment


# --- chats ----------------------------------------------------------------------------------


async def _plan_chat(h: _History, number: int, spec: cc.ChatSpec) -> None:
    store = h.stores[spec.store]
    started = h.now - timedelta(hours=spec.hours_ago)
    about: _Order | None = None
    if isinstance(spec.who, cc.Buyer):
        case = next((_case_spec(s.key) for s in spec.steps if isinstance(s, cc.OpenCase)), None)
        about = await _pick_order(
            h,
            store,
            spec.who.statuses,
            started,
            vip=spec.who.vip,
            accept=_allowed(h, case) if case is not None else None,
        )
        customer = about.customer
        name = customer.nickname or customer.name
        contact = Contact(
            store.id, _visitor_hash(f"{store.code}:c{customer.id}"), customer.id, name
        )
    else:
        visitor = spec.who.name
        contact = Contact(store.id, _visitor_hash(f"{store.code}:{visitor}"), None, visitor)
    chat = _Chat(spec, number, contact, about)
    for index, step in enumerate(spec.steps):
        h.at(started + timedelta(minutes=step.minute), _chat_step(h, chat, index, step))


def _visitor_hash(visitor_id: str) -> str:
    return hashlib.sha256(f"kefu-demo:{visitor_id}".encode()).hexdigest()


def _chat_step(h: _History, chat: _Chat, index: int, step: cc.Step) -> Step:
    async def run() -> None:
        s = h.session
        raw = getattr(step, "text", "")
        text = chat.about.fill(raw) if chat.about is not None else raw
        client_msg_id = f"demo-{chat.number}-{index}"
        match step:
            case cc.Say():
                posted = await conversations.post_customer_message(
                    s,
                    chat.contact,
                    client_msg_id=client_msg_id,
                    body=text,
                    channel=chat.spec.channel,
                )
                chat.conversation_id = posted.conversation.id
                forget_side_effects(s)  # the queued `bot.reply` job is run right here instead
                # What the `bot.reply` job would do once this message is committed.
                await bot.handle_message(s, posted.conversation.id, posted.message.id)
            case cc.Reply(agent=agent):
                await conversations.post_agent_message(
                    s, h.actor(agent), chat.conversation_id, client_msg_id=client_msg_id, body=text
                )
            case cc.Note(agent=agent):
                posted = await conversations.post_agent_message(
                    s,
                    h.actor(agent),
                    chat.conversation_id,
                    client_msg_id=client_msg_id,
                    body=text,
                    audience="internal",
                )
                await workspace.record_mentions(s, h.actor(agent), posted)
            case cc.Assign(by=by, to=to):
                await conversations.assign_conversation(
                    s, h.actor(by), chat.conversation_id, h.users[to].id
                )
            case cc.Snooze(agent=agent):
                await workspace.snooze_conversation(
                    s, h.users[agent], chat.conversation_id, _next_morning(h, chat)
                )
            case cc.Resolve(agent=agent):
                await conversations.resolve_conversation(s, h.actor(agent), chat.conversation_id)
            case cc.Rate(score=score, comment=comment):
                await csat.rate(s, csat.survey_token(chat.conversation_id), score, comment)
            case cc.RateBot(rating=rating):
                turn = await s.scalar(
                    select(BotTurn)
                    .where(
                        BotTurn.conversation_id == chat.conversation_id,
                        BotTurn.outcome == "answered",
                        BotTurn.faq_key.is_not(None),
                    )
                    .order_by(BotTurn.id.desc())
                    .limit(1)
                )
                if turn is not None:  # the live bot decides what it answers; the demo test checks
                    token = bot_rating.rating_payload(turn.message_id)["rate"]
                    await bot_rating.rate_answer(s, token, helpful=rating > 0)
            case cc.OpenCase(agent=agent, key=key):
                assert chat.about is not None, "a case is opened on the buyer's order"
                await _open_case(h, _case_spec(key), chat.about, agent=agent, chat=chat)

    return run


def _next_morning(h: _History, chat: _Chat) -> datetime:
    zone = ZoneInfo(h.stores[chat.spec.store].timezone or "Asia/Shanghai")
    local = h.now.astimezone(zone)
    morning = local.replace(hour=SNOOZE_UNTIL, minute=0, second=0, microsecond=0)
    return morning + timedelta(days=1)


# --- after-sales ----------------------------------------------------------------------------


def _request(
    spec: cc.CaseSpec, order_id: int, items: list[OrderItem], conversation_id: int | None = None
) -> CaseCreate:
    """The buyer asks about the first line: one piece, or all of it for a refund before
    shipping (nothing to send back)."""
    item = items[0]
    quantity = item.quantity if spec.kind is RequestKind.refund_only else 1
    return CaseCreate(
        order_id=order_id,
        kind=spec.kind,
        reason=spec.reason,
        lines=[CaseLineIn(order_item_id=item.id, quantity=quantity)],
        description=spec.description,
        conversation_id=conversation_id,
    )


def _case_spec(key: str) -> cc.CaseSpec:
    return next(c for c in cc.CASES if c.key == key)


def _allowed(h: _History, spec: cc.CaseSpec) -> Callable[[Order], Awaitable[bool]]:
    """Whether the policy engine would accept the case on an order (asked now, which is at
    most days after the demo asks it, so still inside every time limit)."""

    async def allowed(order: Order) -> bool:
        items = await h.session.scalars(
            select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)
        )
        decision = await aftersales.preview(h.session, _request(spec, order.id, list(items)))
        return decision.allowed

    return allowed


async def _plan_case(h: _History, spec: cc.CaseSpec) -> None:
    store = h.stores[spec.store]
    # The case must still pass the policy today (the services check it with the real clock),
    # so an order signed before it was asked and inside the 7-day window now: which orders
    # qualify depends on the hour the demo is loaded. If none does, the story is told a few
    # hours later (never later than its last step allows).
    last_step = max((move.hours for move in spec.moves), default=0.0)
    hours_ago = spec.hours_ago
    while True:
        asked = h.now - timedelta(hours=hours_ago)
        try:
            # A buyer without an email address: a case update for someone with no open chat
            # is mailed, and the demo's made-up addresses may belong to real people.
            about = await _pick_order(
                h,
                store,
                spec.statuses,
                asked,
                custom_made=spec.custom_made,
                without_email=True,
                # The made-to-measure request is there to show the policy engine refusing it.
                accept=None if spec.custom_made else _allowed(h, spec),
            )
            break
        except LookupError:
            if hours_ago - 6 <= last_step:
                raise
            hours_ago -= 6
    if spec.custom_made:
        custom = await h.session.scalars(
            select(OrderItem)
            .join(Product, Product.id == OrderItem.product_id)
            .where(
                OrderItem.order_id == about.order.id,
                Product.return_exclusion == ReturnExclusion.custom_made.value,
            )
        )
        about.items = list(custom)

    async def opened() -> None:
        await _open_case(h, spec, about, agent=None, chat=None)

    h.at(asked, opened)
    for move in spec.moves:
        h.at(asked + timedelta(hours=move.hours), _case_move(h, spec, about, move))


async def _open_case(
    h: _History, spec: cc.CaseSpec, about: _Order, *, agent: str | None, chat: _Chat | None
) -> None:
    customer = about.customer
    actor = (
        h.actor(agent)
        if agent is not None
        else Actor("customer", customer.id, customer.nickname or customer.name)
    )
    created = await aftersales.create_case(
        h.session,
        actor,
        _request(spec, about.order.id, about.items, chat.conversation_id if chat else None),
        source=CaseSource.agent if agent is not None else CaseSource.customer,
        customer_id=None if agent is not None else customer.id,
        created_by_id=h.users[agent].id if agent is not None else None,
    )
    h.cases[spec.key] = created.case.id
    h.clock.follow(AftersalesCase, created.case.id, "answer_due_at")


def _case_move(h: _History, spec: cc.CaseSpec, about: _Order, move: cc.Move) -> Step:
    async def run() -> None:
        s, actor, case_id = h.session, h.actor(move.agent), h.cases[spec.key]
        match move.action:
            case "approve":
                await aftersales.approve(s, actor, case_id)
                h.clock.follow(AftersalesCase, case_id, "return_due_at")
            case "tracking":
                buyer = Actor("customer", about.customer.id, about.customer.nickname)
                carrier, tracking_no = _parcel(h, "tmall-flagship")  # sent back by 中通
                await aftersales.enter_return_tracking(
                    s, buyer, case_id, carrier=carrier, tracking_no=tracking_no
                )
            case "receive":
                await aftersales.receive(s, actor, case_id, note="仓库已签收退货包裹")
            case "inspect":
                await aftersales.inspect(s, actor, case_id, passed=True, note=move.text)
            case "refund":
                await aftersales.refund(s, actor, case_id)
            case "reship":
                carrier, tracking_no = _parcel(h, spec.store)
                await aftersales.reship(s, actor, case_id, carrier=carrier, tracking_no=tracking_no)
            case "reject":
                await aftersales.reject(s, actor, case_id, move.text)
            case _:
                raise ValueError(f"unknown case move {move.action!r}")

    return run


def _parcel(h: _History, store: str) -> tuple[str, str]:
    """A carrier and a tracking number in its format (as the order generator makes them)."""
    digits = "".join(h.rng.choice("0123456789") for _ in range(12))
    if store == "jd-store":
        return "京东物流", f"JDV{h.rng.choice('ABCDEFGHJK')}{digits[:11]}"
    return "中通快递", f"7{h.rng.choice('358')}{digits}"


def expected_statuses() -> dict[str, int]:
    """How many demo chats end in each status (what the scripts say)."""
    counts: dict[str, int] = {}
    for spec in cc.CHATS:
        status = "open"
        for step in spec.steps:
            if isinstance(step, cc.Resolve):
                status = "resolved"
            elif isinstance(step, cc.Snooze):
                status = "snoozed"
        counts[status] = counts.get(status, 0) + 1
    return counts

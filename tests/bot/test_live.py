"""The live bot over the real customer WebSocket: FAQ answers, suggestions as choices, order
lookups behind identification, confirmed order changes through the connector, refusals
explained, after-sales decisions, handover with a summary for the agent, knowledge edits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kefu.bot.models import BotSession, BotTurn
from kefu.channels.identity import identifier_hash, widget_secret
from kefu.conversations.models import Conversation, Message
from kefu.core.audit import Actor, AuditEntry
from kefu.core.db import Database, utcnow
from kefu.knowledge import service as knowledge
from kefu.knowledge.schemas import FaqIn
from kefu.store.enums import OrderStatus
from kefu.store.models import LogisticsEvent, Order, OrderNote, Shipment, Store
from kefu.tickets.models import Ticket
from tests.conversations.chat import Frame, Peer, agent, customer
from tests.fixtures.browser import LiveServer

CHANNEL = "bot-shop"
TAIL = "5678"
PHONE = "1381234" + TAIL

MakeFaq = Callable[..., Awaitable[int]]


def is_type(kind: str) -> Callable[[Frame], bool]:
    return lambda f: f.get("type") == kind


@pytest.fixture
async def bot_store(make_store: Any, make_faq: MakeFaq) -> Store:
    store: Store = await make_store(
        code=CHANNEL, name="优衣小铺", settings={"bot": {"enabled": True}}
    )
    await make_faq(
        "退货运费谁出",
        "七天无理由退货的运费由买家承担；质量问题由我们承担运费。",
        similar=["退货邮费谁承担", "退货要自己出运费吗"],
    )
    await make_faq("多久发货", "付款后 48 小时内发货。", similar=["什么时候发货", "几天能发货"])
    await make_faq("支持开发票吗", "支持开具电子发票，下单时填写抬头即可。", similar=["能开发票吗"])
    await make_faq(
        "退货地址是什么", "请寄到浙江省杭州市余杭区文一西路 969 号。", similar=["退货寄到哪里"]
    )
    await make_faq("怎么申请退货", "在“我的订单”里点“申请售后”即可。", similar=["退货流程是什么"])
    return store


async def shopper(live: LiveServer, **params: str) -> Peer:
    peer = await customer(live, channel=CHANNEL, **params)
    await peer.expect(is_type("hello"))
    await peer.send({"type": "resume", "after": 0})
    return peer


async def ask(peer: Peer, text: str, n: list[int] = [0]) -> Frame:  # noqa: B006 - a counter
    """Send `text`, return the bot's next public message event."""
    n[0] += 1
    client_id = f"q{n[0]}"
    await peer.send({"type": "send", "client_id": client_id, "body": text})
    await peer.expect(lambda f: f.get("type") == "ack" and f.get("client_id") == client_id)
    return await bot_says(peer)


async def bot_says(peer: Peer) -> Frame:
    return await peer.expect(
        lambda f: (
            f.get("type") == "event"
            and f.get("kind") == "message"
            and (f.get("message") or {}).get("sender_kind") == "bot"
        ),
        within=20,
    )


def body(frame: Frame) -> str:
    return str(frame["message"]["body"])


def choice_texts(frame: Frame) -> list[str]:
    assert frame["message"]["kind"] == "choices"
    return [c["text"] for c in frame["message"]["payload"]["choices"]]


async def turns(db: Database) -> list[BotTurn]:
    async with db.sessionmaker() as s:
        return list(await s.scalars(select(BotTurn).order_by(BotTurn.id)))


async def notes(db: Database) -> list[str]:
    async with db.sessionmaker() as s:
        rows = await s.scalars(
            select(Message.body).where(Message.audience == "internal").order_by(Message.id)
        )
        return list(rows)


async def test_faq_answer_reaches_the_widget_live_and_is_logged(
    live_server: LiveServer, db: Database, bot_store: Store
) -> None:
    peer = await shopper(live_server)
    reply = await ask(peer, "亲，退货运费谁出呀？")
    assert "运费由买家承担" in body(reply)
    assert reply["message"]["sender_name"] == "智能助手"
    logged = await turns(db)
    assert len(logged) == 1
    assert logged[0].outcome == "answered" and logged[0].label.startswith("faq:")
    assert logged[0].faq_id is not None and logged[0].reply_message_id == reply["message"]["id"]
    async with db.sessionmaker() as s:
        conversation = await s.scalar(select(Conversation))
        assert conversation is not None
        # The bot holds the chat: it is not waiting for a person.
        assert conversation.waiting_since is None and conversation.assignee_id is None
    await peer.close()


async def test_ambiguous_question_offers_three_choices_and_a_click_answers(
    live_server: LiveServer, db: Database, bot_store: Store
) -> None:
    peer = await shopper(live_server)
    offer = await ask(peer, "关于退货")
    assert body(offer).startswith("您是不是想问")
    texts = choice_texts(offer)
    # Three questions on the topic, the request itself, and a person.
    assert len(texts) == 5 and texts[-2:] == ["我要退货", "转人工"]
    assert "怎么申请退货" in texts
    # Clicking a choice sends its text: the bot then answers that entry.
    answer = await ask(peer, "怎么申请退货")
    assert "申请售后" in body(answer)
    outcomes = [t.outcome for t in await turns(db)]
    assert outcomes == ["suggested", "answered"]
    await peer.close()


async def test_bot_off_by_default_outside_the_demo_shop(
    live_server: LiveServer, db: Database, make_store: Any, make_faq: MakeFaq
) -> None:
    await make_store(code=CHANNEL)
    await make_faq("多久发货", "付款后 48 小时内发货。")
    peer = await shopper(live_server)
    await peer.send({"type": "send", "client_id": "x1", "body": "多久发货"})
    await peer.expect(is_type("ack"))
    with pytest.raises(TimeoutError):
        await bot_says_quickly(peer)
    assert await turns(db) == []
    async with db.sessionmaker() as s:
        conversation = await s.scalar(select(Conversation))
        assert conversation is not None and conversation.waiting_since is not None
    await peer.close()


async def bot_says_quickly(peer: Peer) -> Frame:
    return await peer.expect(
        lambda f: (f.get("message") or {}).get("sender_kind") == "bot", within=2
    )


async def shipped_order(make_customer: Any, make_order: Any, store: Store, **fields: Any) -> Order:
    buyer = await make_customer(store, phone=PHONE, external_id="U-1001", name="张三")
    order: Order = await make_order(store, buyer, **fields)
    return order


async def test_order_status_needs_order_number_and_phone_tail(
    live_server: LiveServer,
    db: Database,
    bot_store: Store,
    make_customer: Any,
    make_order: Any,
) -> None:
    order = await shipped_order(
        make_customer,
        make_order,
        bot_store,
        status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
        order_no="202611150001",
    )
    async with db.sessionmaker() as s:
        shipment = Shipment(
            order_id=order.id, carrier="中通快递", tracking_no="ZT123456789", status="in_transit"
        )
        s.add(shipment)
        await s.flush()
        s.add(
            LogisticsEvent(
                shipment_id=shipment.id,
                occurred_at=utcnow() - timedelta(hours=3),
                location="杭州",
                description="快件已到达杭州转运中心",
            )
        )
        await s.commit()
    peer = await shopper(live_server)
    first = await ask(peer, "我的快递到哪了")
    assert "订单号" in body(first) and "后四位" in body(first)
    assert "中通" not in body(first)  # nothing about any order before identification
    second = await ask(peer, "订单号 202611150001")
    assert "后四位" in body(second)
    wrong = await ask(peer, "1111")
    assert "对不上" in body(wrong)
    status = await ask(peer, TAIL)
    text = body(status)
    assert "202611150001" in text and "卖家已发货" in text
    assert "ZT123456789" in text and "快件已到达杭州转运中心" in text
    assert PHONE not in text and "张三" not in text
    async with db.sessionmaker() as s:
        state = await s.scalar(select(BotSession))
        assert state is not None and state.verified_order_ids == [order.id]
        assert state.order_id == order.id and state.pending == {}
    await peer.close()


async def test_change_address_after_confirmation_goes_through_the_connector(
    live_server: LiveServer,
    db: Database,
    bot_store: Store,
    make_customer: Any,
    make_order: Any,
) -> None:
    order = await shipped_order(
        make_customer,
        make_order,
        bot_store,
        status=OrderStatus.WAIT_SELLER_SEND_GOODS,
        order_no="202611150002",
    )
    peer = await shopper(live_server)
    question = await ask(
        peer, f"订单202611150002 尾号{TAIL} 帮我把地址改成浙江省杭州市滨江区江南大道 588 号"
    )
    assert "确认将订单 202611150002 的收货地址修改为：浙江省杭州市滨江区江南大道" in body(question)
    assert choice_texts(question) == ["确认", "不用了"]
    async with db.sessionmaker() as s:
        unchanged = await s.get(Order, order.id)
        assert unchanged is not None and unchanged.district == "西湖区"  # nothing before "确认"
    done = await ask(peer, "确认")
    assert "收货地址已改为" in body(done)
    async with db.sessionmaker() as s:
        changed = await s.get(Order, order.id)
        assert changed is not None
        assert (changed.province, changed.city, changed.district) == ("浙江省", "杭州市", "滨江区")
        assert "江南大道" in changed.address_detail and changed.receiver_phone == PHONE
        audit = await s.scalar(
            select(AuditEntry).where(AuditEntry.action == "order.change_address")
        )
        assert audit is not None and audit.actor_kind == "bot"
    assert [t.action_result for t in await turns(db)][-1] == "change_address:done"
    await peer.close()


async def test_cancel_refused_after_shipment_with_the_reason(
    live_server: LiveServer,
    db: Database,
    bot_store: Store,
    make_customer: Any,
    make_order: Any,
) -> None:
    order = await shipped_order(
        make_customer,
        make_order,
        bot_store,
        status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
        order_no="202611150003",
    )
    # The shop vouches for the shopper (signed identity): no phone tail needed for own orders.
    uid = "U-1001"
    signed = identifier_hash(widget_secret(bot_store), uid)
    peer = await shopper(live_server, uid=uid, uid_hash=signed)
    reply = await ask(peer, "我要取消订单")
    text = body(reply)
    assert "202611150003" in text and "已经发货" in text and "不能取消" in text
    assert "7 天内申请无理由退货" in text
    async with db.sessionmaker() as s:
        still = await s.get(Order, order.id)
        assert still is not None and still.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS
    assert (await turns(db))[-1].action_result == "cancel_order:refused"
    await peer.close()


async def test_cancel_unshipped_order_after_confirmation_refunds(
    live_server: LiveServer,
    db: Database,
    bot_store: Store,
    make_customer: Any,
    make_order: Any,
) -> None:
    order = await shipped_order(make_customer, make_order, bot_store, order_no="202611150004")
    peer = await shopper(
        live_server, uid="U-1001", uid_hash=identifier_hash(widget_secret(bot_store), "U-1001")
    )
    question = await ask(peer, "刚拍的那单不要了帮我取消")
    assert "确认取消订单 202611150004 吗" in body(question) and "¥99.00" in body(question)
    declined = await ask(peer, "不用了")
    assert "没有做任何修改" in body(declined)
    await ask(peer, "我要取消订单")
    done = await ask(peer, "确认")
    assert "订单已取消" in body(done)
    async with db.sessionmaker() as s:
        closed = await s.get(Order, order.id)
        assert closed is not None and closed.status == OrderStatus.TRADE_CLOSED
    await peer.close()


async def test_urge_shipping_records_a_note_and_a_warehouse_ticket_once(
    live_server: LiveServer,
    db: Database,
    bot_store: Store,
    make_customer: Any,
    make_order: Any,
) -> None:
    order = await shipped_order(make_customer, make_order, bot_store, order_no="202611150005")
    peer = await shopper(
        live_server, uid="U-1001", uid_hash=identifier_hash(widget_secret(bot_store), "U-1001")
    )
    first = await ask(peer, "怎么还不发货，快点发货")
    assert "催促仓库" in body(first) and "前发出" in body(first)
    again = await ask(peer, "能不能快点发货")
    assert "已经帮您催过" in body(again)
    async with db.sessionmaker() as s:
        notes_ = list(await s.scalars(select(OrderNote.body).where(OrderNote.order_id == order.id)))
        tickets = list(await s.scalars(select(Ticket)))
    assert notes_ == ["买家在线催发货（智能客服记录）"]
    assert len(tickets) == 1 and tickets[0].type_code == "logistics"
    assert tickets[0].source == "automation"
    await peer.close()


async def test_return_outside_seven_days_is_explained(
    live_server: LiveServer,
    db: Database,
    bot_store: Store,
    make_customer: Any,
    make_order: Any,
) -> None:
    signed_at = utcnow() - timedelta(days=20)
    await shipped_order(
        make_customer,
        make_order,
        bot_store,
        status=OrderStatus.TRADE_FINISHED,
        order_no="202611150006",
        placed_at=signed_at - timedelta(days=3),
        signed_at=signed_at,
        items=[{"title": "女装连衣裙", "unit_price": "199.00"}],
    )
    peer = await shopper(live_server)
    reply = await ask(peer, f"订单202611150006 尾号{TAIL} 这条裙子我要退货")
    text = body(reply)
    assert "不能办理退货退款" in text and "已超期" in text
    assert "质量问题" in text  # the way that stays open
    assert (await turns(db))[-1].action_result == "return_request:refused"
    await peer.close()


async def test_handoff_on_request_routes_to_an_online_agent_with_a_summary(
    live_server: LiveServer,
    db: Database,
    make_store: Any,
    make_faq: MakeFaq,
    agent_cookie: Any,
) -> None:
    await make_store(code=CHANNEL, settings={"bot": {"enabled": True}, "routing": "auto"})
    await make_faq("多久发货", "付款后 48 小时内发货。")
    cookie, _ = await agent_cookie(live_server, display_name="小美")
    staff = await agent(live_server, cookie)  # connecting marks the agent present
    await staff.expect(is_type("hello"))
    await staff.send({"type": "resume", "after": 0})
    peer = await shopper(live_server)
    answer = await ask(peer, "多久发货")
    assert "48 小时" in body(answer)
    async with db.sessionmaker() as s:
        conversation = await s.scalar(select(Conversation))
        assert conversation is not None and conversation.assignee_id is None  # the bot first
    transfer = await ask(peer, "转人工")
    assert "正在为您转接人工客服" in body(transfer)
    assigned = await peer.event("assigned", within=20)
    assert assigned["data"]["assignee_name"] == "小美"
    note = await staff.event("note", within=20)
    summary = note["message"]["body"]
    assert "原因：客户要求转人工" in summary and "“多久发货” → 答 FAQ" in summary
    assert "客户情绪" in summary
    assert note["message"]["sender_kind"] == "bot"
    # The customer never sees the note; after the handover the bot stays silent.
    assert not [f for f in peer.frames if (f.get("message") or {}).get("audience") == "internal"]
    await peer.send({"type": "send", "client_id": "after", "body": "多久发货"})
    await peer.expect(lambda f: f.get("type") == "ack" and f.get("client_id") == "after")
    with pytest.raises(TimeoutError):
        await bot_says_quickly(peer)
    reasons = [t.handoff_reason for t in await turns(db)]
    assert reasons == ["", "requested"]
    await peer.close()
    await staff.close()


async def test_complaint_hands_over_and_with_nobody_online_takes_a_message(
    live_server: LiveServer, db: Database, bot_store: Store
) -> None:
    peer = await shopper(live_server)
    reply = await ask(peer, "你们卖假货，我要打12315")
    assert "没有客服在线" in body(reply)
    assert choice_texts(reply) == ["我要留言"]
    left = await ask(peer, "衣服有破洞，请联系我 13900001111")
    assert "已收到您的留言" in body(left)
    async with db.sessionmaker() as s:
        ticket = await s.scalar(select(Ticket))
        conversation = await s.scalar(select(Conversation))
    assert ticket is not None and ticket.source == "chat_offline"
    assert ticket.contact_phone == "13900001111" and ticket.number in body(left)
    assert conversation is not None and conversation.waiting_since is not None
    summary = (await notes(db))[0]
    assert "原因：投诉或强烈不满" in summary and "客户：访客" in summary
    assert [t.outcome for t in await turns(db)] == ["handoff", "message_taken"]
    await peer.close()


async def test_two_turns_not_understood_hand_over(
    live_server: LiveServer, db: Database, bot_store: Store
) -> None:
    peer = await shopper(live_server)
    first = await ask(peer, "asdfgh")
    assert "没能理解" in body(first) and choice_texts(first) == ["转人工"]
    second = await ask(peer, "今天天气怎么样")
    assert "没有客服在线" in body(second)
    summary = (await notes(db))[0]
    assert "机器人连续未能理解" in summary and "“asdfgh” → none" in summary
    async with db.sessionmaker() as s:
        state = await s.scalar(select(BotSession))
        assert state is not None and state.handoff_reason == "low_confidence"
    await peer.close()


async def test_knowledge_edit_changes_the_next_answer(
    live_server: LiveServer, db: Database, bot_store: Store
) -> None:
    peer = await shopper(live_server)
    before = await ask(peer, "几天能发货")
    assert "48 小时" in body(before)
    async with db.sessionmaker() as s:
        faq_id = await s.scalar(select(BotTurn.faq_id).where(BotTurn.faq_id.is_not(None)).limit(1))
        assert faq_id is not None
        await knowledge.update_faq(
            s,
            Actor("system", None, "editor"),
            faq_id,
            FaqIn(
                question="多久发货",
                answer="双十一期间付款后 72 小时内发货。",
                similar=["几天能发货"],
            ),
        )
        await s.commit()
    after = await ask(peer, "几天能发货")
    assert "72 小时" in body(after)
    await peer.close()


async def test_handover_on_mood_shop_keywords_and_for_vips(
    live_server: LiveServer, db: Database, make_store: Any, make_customer: Any
) -> None:
    store = await make_store(
        code=CHANNEL,
        settings={"bot": {"enabled": True, "vip_handoff": True, "handoff_keywords": ["赔偿"]}},
    )
    angry = await shopper(live_server)
    assert "没有客服在线" in body(await ask(angry, "烦死了你们客服怎么回事"))
    await angry.close()
    keyword = await shopper(live_server)
    assert "没有客服在线" in body(await ask(keyword, "我要赔偿"))
    await keyword.close()
    await make_customer(store, external_id="VIP-1", tier="vip")
    vip = await shopper(
        live_server, uid="VIP-1", uid_hash=identifier_hash(widget_secret(store), "VIP-1")
    )
    assert "没有客服在线" in body(await ask(vip, "你好"))
    await vip.close()
    reasons = [t.handoff_reason for t in await turns(db)]
    assert reasons == ["negative_emotion", "keyword", "vip"]
    summaries = await notes(db)
    assert "客户情绪：负面" in summaries[0] and "（VIP）" in summaries[2]


async def test_return_in_time_opens_an_aftersales_case_and_refund_status_shows_it(
    live_server: LiveServer,
    db: Database,
    bot_store: Store,
    make_customer: Any,
    make_order: Any,
) -> None:
    from kefu.aftersales.models import AftersalesCase

    signed_at = utcnow() - timedelta(days=2)
    order = await shipped_order(
        make_customer,
        make_order,
        bot_store,
        status=OrderStatus.TRADE_BUYER_SIGNED,
        order_no="202611150007",
        placed_at=signed_at - timedelta(days=3),
        signed_at=signed_at,
        items=[{"title": "女装连衣裙", "unit_price": "199.00"}],
    )
    peer = await shopper(live_server)
    reply = await ask(peer, f"订单202611150007 尾号{TAIL} 这条裙子我要退货")
    text = body(reply)
    assert "可以办理退货退款" in text and "在期限内" in text and "售后单号" in text
    async with db.sessionmaker() as s:
        case = await s.scalar(select(AftersalesCase))
    assert case is not None and case.order_id == order.id and case.source == "bot"
    assert case.number in text and case.conversation_id is not None
    status = await ask(peer, "我的退款到哪一步了")
    assert f"售后单 {case.number}：待审核" in body(status)
    assert [t.action_result for t in await turns(db)] == [
        "return_request:case_opened",
        "refund_status:shown",
    ]
    await peer.close()


async def test_with_nobody_at_work_the_bot_keeps_the_chat_open(
    live_server: LiveServer, db: Database, make_store: Any, make_faq: MakeFaq
) -> None:
    await make_store(code=CHANNEL, settings={"bot": {"enabled": True}, "routing": "auto"})
    await make_faq("多久发货", "付款后 48 小时内发货。")
    peer = await customer(live_server, channel=CHANNEL)
    hello = await peer.expect(is_type("hello"))
    # An auto-routed store with nobody online would show the 留言 form; the bot answers instead.
    assert hello["availability"]["mode"] == "chat"
    assert hello["availability"]["agents_online"] is False
    await peer.send({"type": "resume", "after": 0})
    assert "48 小时" in body(await ask(peer, "多久发货"))
    handed = await ask(peer, "转人工")
    assert "没有客服在线" in body(handed)
    await peer.close()
